package sqlstore

import (
	"encoding/json"
	"time"
)

// KeyPromotions collects the ordering keys whose next job may have to be
// promoted once a write has settled, removed or killed their heads, so
// that a store promotes them all with one statement per queue instead of
// one per job. The zero value is empty and ready to use.
type KeyPromotions struct {
	queues []string            // in the order first added
	keys   map[string][]string // queue → keys, each once, in the order added
	seen   map[[2]string]bool
	now    time.Time // the latest time added: promoted jobs due by then are pending
}

// Add notes key of queueName, settled at now. An empty key (a job without
// ordering key) is ignored.
func (p *KeyPromotions) Add(queueName, key string, now time.Time) {
	if key == "" {
		return
	}
	if p.seen == nil {
		p.seen, p.keys = map[[2]string]bool{}, map[string][]string{}
	}
	if now.After(p.now) {
		p.now = now
	}
	if p.seen[[2]string{queueName, key}] {
		return
	}
	p.seen[[2]string{queueName, key}] = true
	if _, ok := p.keys[queueName]; !ok {
		p.queues = append(p.queues, queueName)
	}
	p.keys[queueName] = append(p.keys[queueName], key)
}

// Empty reports whether no key was added.
func (p *KeyPromotions) Empty() bool { return len(p.queues) == 0 }

// Now is the latest time added.
func (p *KeyPromotions) Now() time.Time { return p.now }

// Each calls f with every queue and its keys, in the order they were
// first added, until f returns an error.
func (p *KeyPromotions) Each(f func(queueName string, keys []string) error) error {
	for _, q := range p.queues {
		if err := f(q, p.keys[q]); err != nil {
			return err
		}
	}
	return nil
}

// KeyList encodes keys as a JSON array of strings, for SQLite's
// json_each.
func KeyList(keys []string) string {
	b, _ := json.Marshal(keys) // []string always encodes
	return string(b)
}
