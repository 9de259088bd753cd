package httpsrv

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every timeout is set: the defaults, or the given ones.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	s := Timeouts{}.Server(http.NotFoundHandler())
	require.Equal(t, DefaultReadHeader, s.ReadHeaderTimeout)
	require.Equal(t, DefaultRead, s.ReadTimeout)
	require.Equal(t, DefaultWrite, s.WriteTimeout)
	require.Equal(t, DefaultIdle, s.IdleTimeout)
	s = Timeouts{ReadHeader: 1, Read: 2, Write: 3, Idle: 4}.Server(http.NotFoundHandler())
	require.Equal(t, []time.Duration{1, 2, 3, 4}, []time.Duration{s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout})
}

// SlowHeaders sees a server with a short read-header timeout close the
// connection, and reports one without a timeout that holds it.
func TestSlowHeaders(t *testing.T) {
	t.Parallel()
	serve := func(s *http.Server) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go s.Serve(ln)
		t.Cleanup(func() { s.Close() })
		return ln.Addr().String()
	}
	short := serve(Timeouts{ReadHeader: 100 * time.Millisecond}.Server(http.NotFoundHandler()))
	require.NoError(t, SlowHeaders(short, 10*time.Second))
	none := serve(&http.Server{Handler: http.NotFoundHandler()})
	require.Error(t, SlowHeaders(none, 300*time.Millisecond))
}

// SlowBody sees a server with a short read timeout close the connection
// of a client that drips a body its handler reads, and reports one
// without a timeout that holds it.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	readsForm := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	serve := func(s *http.Server) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go s.Serve(ln)
		t.Cleanup(func() { s.Close() })
		return ln.Addr().String()
	}
	short := serve(Timeouts{Read: 200 * time.Millisecond}.Server(readsForm))
	require.NoError(t, SlowBody(short, "/", 10*time.Second))
	none := serve(&http.Server{Handler: readsForm})
	require.Error(t, SlowBody(none, "/", 300*time.Millisecond))
}
