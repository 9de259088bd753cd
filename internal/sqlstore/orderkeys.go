package sqlstore

import (
	"encoding/json"
	"time"

	"github.com/spooljobs/spool/queue"
)

// KeyPromotions collects the ordering keys whose next job may have to be
// promoted once a write has settled, removed or killed their heads, so
// that a store promotes them all with one statement per queue instead of
// one per job. The zero value is empty and ready to use.
//
// A key is either "maybe busy" (Add: the write may have left its head in
// place, or ended a job that was not its head) or "freed" (AddSettled of
// a settlement that ended a running job for good): a store must check
// that a maybe-busy key has no head before it promotes, and may skip that
// check for a freed key.
type KeyPromotions struct {
	queues []string            // in the order first added
	keys   map[string][]string // queue → keys, each once, in the order added
	seen   map[[2]string]bool  // (queue, key) → freed
	now    time.Time           // the latest time added: promoted jobs due by then are pending
}

// Add notes key of queueName, settled at now, as maybe busy. An empty
// key (a job without ordering key) is ignored.
func (p *KeyPromotions) Add(queueName, key string, now time.Time) {
	p.add(queueName, key, now, false)
}

// AddSettled notes the key of st, a settlement whose lease held (the job
// was running under its token until this write). A completion, a cancel
// or a death ends the job for good, and a running job is the only live
// job of its key (only a key's head is ever leased, and a key never has
// two heads), so the key is freed: it has no live job left in this
// write. A retry, snooze or release leaves the job live (the head) unless
// an operator had cancelled it meanwhile, so its key is maybe busy.
func (p *KeyPromotions) AddSettled(st queue.Settlement) {
	switch st.Outcome {
	case queue.OutcomeComplete, queue.OutcomeCancel, queue.OutcomeDead:
		p.add(st.Queue, st.OrderKey, st.Now, true)
	default:
		p.add(st.Queue, st.OrderKey, st.Now, false)
	}
}

// add notes the key; a key noted more than once stays freed only while
// every note says so.
func (p *KeyPromotions) add(queueName, key string, now time.Time, freed bool) {
	if key == "" {
		return
	}
	if p.seen == nil {
		p.seen, p.keys = map[[2]string]bool{}, map[string][]string{}
	}
	if now.After(p.now) {
		p.now = now
	}
	qk := [2]string{queueName, key}
	if was, ok := p.seen[qk]; ok {
		p.seen[qk] = was && freed
		return
	}
	p.seen[qk] = freed
	if _, ok := p.keys[queueName]; !ok {
		p.queues = append(p.queues, queueName)
	}
	p.keys[queueName] = append(p.keys[queueName], key)
}

// Empty reports whether no key was added.
func (p *KeyPromotions) Empty() bool { return len(p.queues) == 0 }

// Now is the latest time added.
func (p *KeyPromotions) Now() time.Time { return p.now }

// Each calls f with every queue, its maybe-busy keys and its freed keys
// (either may be empty, not both), the queues in the order first added
// and each list in the order added, until f returns an error.
func (p *KeyPromotions) Each(f func(queueName string, busy, freed []string) error) error {
	for _, q := range p.queues {
		var busy, freed []string
		for _, k := range p.keys[q] {
			if p.seen[[2]string{q, k}] {
				freed = append(freed, k)
			} else {
				busy = append(busy, k)
			}
		}
		if err := f(q, busy, freed); err != nil {
			return err
		}
	}
	return nil
}

// KeyList encodes keys as a JSON array of strings, for SQLite's
// json_each.
func KeyList(keys []string) string {
	if len(keys) == 0 {
		return "[]" // json.Marshal writes null for a nil slice
	}
	b, _ := json.Marshal(keys) // []string always encodes
	return string(b)
}
