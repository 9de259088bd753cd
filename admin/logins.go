package admin

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Failed logins are limited per client address with a token bucket: a
// client may fail loginBurst times in a row, then once per loginEvery.
// While its bucket is empty every request of the client that carries
// credentials gets 429 Too Many Requests with Retry-After, without its
// credentials being checked, so a password cannot be guessed faster than
// that. Requests without an Authorization header (a browser's first
// visit, before it asks for the password) are refused as before and cost
// nothing.
const (
	loginBurst = 10
	loginEvery = 6 * time.Second
	// loginClients bounds the clients the limiter remembers.
	loginClients = 10000
)

// loginLimiter is the per-handler state of the failed-login limit.
type loginLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	clients map[string]*loginBucket
}

// loginBucket is one client's failures: tokens left at the time at.
type loginBucket struct {
	tokens float64
	at     time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, clients: map[string]*loginBucket{}}
}

// refill brings b up to now and reports whether it is full again.
func (b *loginBucket) refill(now time.Time) bool {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(loginBurst, b.tokens+float64(d)/float64(loginEvery))
		b.at = now
	}
	return b.tokens >= loginBurst
}

// wait returns how long client must wait before its next try; 0 when it
// may try now.
func (l *loginLimiter) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[client]
	if b == nil {
		return 0
	}
	now := l.now()
	if b.refill(now) {
		delete(l.clients, client)
		return 0
	}
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(loginEvery))
}

// failed takes a token from client's bucket.
func (l *loginLimiter) failed(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.clients[client]
	if b == nil {
		if len(l.clients) >= loginClients {
			l.prune(now)
		}
		b = &loginBucket{tokens: loginBurst, at: now}
		l.clients[client] = b
	}
	b.refill(now)
	b.tokens = max(0, b.tokens-1)
}

// prune forgets the clients whose buckets are full again, and when that
// frees nothing, some others (map order is random).
func (l *loginLimiter) prune(now time.Time) {
	for k, b := range l.clients {
		if b.refill(now) {
			delete(l.clients, k)
		}
	}
	for k := range l.clients {
		if len(l.clients) < loginClients {
			break
		}
		delete(l.clients, k)
	}
}

// clientAddr is the client failed logins are counted by: the
// connection's IP, or with Options.TrustProxy the last address in
// X-Forwarded-For (the one the trusted proxy added). An IPv6 client counts
// by its /64 network, which one host may hold whole.
func (h *Handler) clientAddr(r *http.Request) string {
	if h.opts.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return clientKey(ip)
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil {
		return clientKey(ip)
	}
	return host
}

// clientKey is an IPv4 address as it is, an IPv6 one as its /64.
func clientKey(ip net.IP) string {
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
