package sqlstore

import (
	"math"
	"time"

	"github.com/spooljobs/spool/queue"
)

// KeyPicker chooses, from a queue's ready jobs offered in lease order, the
// ones a lease may take under the queue's per-partition-key limits
// (QueueSettings.MaxRunningPerKey, RateLimitPerKey): a job without a key
// always, a job of a key only while the key has a free slot and a token.
// It passes over the others, and says why (Limited, NextToken), so a
// worker waits for a settle or for the next token instead of spinning.
// Both stores use it; they read the rows and write the buckets.
type KeyPicker struct {
	// MaxRunning is the per-key limit on running jobs (0: none).
	MaxRunning int
	// Rate holds the per-key rate's Limit and Period (Limit 0: none);
	// each key's bucket starts from it.
	Rate RateBucket
	// Now is the lease's time (µs, the store's frame).
	Now int64
	// Want is how many jobs the lease may take at most.
	Want int
	// Running counts each key's running jobs whose lease holds.
	Running map[string]int
	// Load reads a key's stored bucket (tokens at at); ok is false when
	// the key has none yet (a full bucket).
	Load func(key string) (tokens float64, at int64, ok bool, err error)

	// IDs are the jobs picked, in the order offered.
	IDs []int64
	// Limited is set when a job was passed over because its key had
	// MaxRunning jobs running (or picked).
	Limited bool
	// NextToken, when not 0, is the earliest time (µs) a key whose job was
	// passed over for want of a token gets one.
	NextToken int64

	buckets map[string]*keyBucket
	picked  map[string]int
}

// keyBucket is one key's rate bucket during a lease: refilled to Now,
// with the tokens picked jobs will spend.
type keyBucket struct {
	b    RateBucket
	used int
}

// KeyBucket is a key's rate bucket to store after a lease spent it.
type KeyBucket struct {
	Key    string
	Tokens float64
	At     int64 // µs when Tokens was counted
	FullAt int64 // µs when the bucket holds Limit tokens again
}

// Done reports whether the picker has as many jobs as the lease wants.
func (k *KeyPicker) Done() bool { return len(k.IDs) >= k.Want }

// Offer considers the next ready job in lease order, of partition key key
// ("" for none), and picks it if its key has room.
func (k *KeyPicker) Offer(id int64, key string) error {
	if k.Done() {
		return nil
	}
	if key == "" {
		k.IDs = append(k.IDs, id)
		return nil
	}
	if k.picked == nil {
		k.picked = map[string]int{}
	}
	if k.MaxRunning > 0 && k.Running[key]+k.picked[key] >= k.MaxRunning {
		k.Limited = true
		return nil
	}
	if k.Rate.Limit > 0 {
		kb, err := k.bucket(key)
		if err != nil {
			return err
		}
		if int(kb.b.Tokens) <= kb.used {
			// The token after those the lease takes: when it comes, the
			// job passed over may start.
			_, next := kb.b.Take(k.Now, kb.used+1)
			if next > 0 && (k.NextToken == 0 || next < k.NextToken) {
				k.NextToken = next
			}
			return nil
		}
		kb.used++
	}
	k.picked[key]++
	k.IDs = append(k.IDs, id)
	return nil
}

// bucket returns key's bucket, read and refilled to Now on first use.
func (k *KeyPicker) bucket(key string) (*keyBucket, error) {
	if kb, ok := k.buckets[key]; ok {
		return kb, nil
	}
	kb := &keyBucket{b: RateBucket{Limit: k.Rate.Limit, Period: k.Rate.Period, Tokens: -1}}
	if k.Load != nil {
		tokens, at, ok, err := k.Load(key)
		if err != nil {
			return nil, err
		}
		if ok {
			kb.b.Tokens, kb.b.At = tokens, at
		}
	}
	kb.b.Take(k.Now, 0) // refill to now
	if k.buckets == nil {
		k.buckets = map[string]*keyBucket{}
	}
	k.buckets[key] = kb
	return kb, nil
}

// Spent spends a token of each leased job's key and returns the buckets
// to store (none without a per-key rate). Jobs the lease could not take
// after all (a store that found one gone) spend nothing.
func (k *KeyPicker) Spent(leased []*queue.Job) []KeyBucket {
	if k.Rate.Limit <= 0 {
		return nil
	}
	var out []KeyBucket
	spent := map[string]int{}
	for _, j := range leased {
		if j.PartitionKey != "" {
			spent[j.PartitionKey]++
		}
	}
	for key, n := range spent {
		kb, ok := k.buckets[key]
		if !ok {
			continue
		}
		kb.b.Spend(n)
		out = append(out, KeyBucket{Key: key, Tokens: kb.b.Tokens, At: kb.b.At, FullAt: kb.b.fullAt()})
	}
	return out
}

// fullAt is when the bucket holds Limit tokens again (µs).
func (b *RateBucket) fullAt() int64 {
	missing := float64(b.Limit) - b.Tokens
	if missing <= 0 {
		return b.At
	}
	return b.At + int64(math.Ceil(missing*float64(b.Period)/float64(b.Limit)))
}

// KeyRateSetting is what a store writes for qs's per-key rate limit: the
// limit and its period in µs (a second when unset), or two NULLs for none.
func KeyRateSetting(qs queue.QueueSettings) (limit, periodUS any) {
	if qs.RateLimitPerKey <= 0 {
		return nil, nil
	}
	period := qs.RatePeriodPerKey
	if period <= 0 {
		period = time.Second
	}
	return qs.RateLimitPerKey, period.Microseconds()
}

// KeyWalkFirst is how many ready jobs a store that reads the walk in pages
// (a server database, one round trip a page) reads first for a lease of
// want jobs: most leases find room among them; the rest of the walk, up
// to queue.MaxKeyWalk, is read only when they do not.
func KeyWalkFirst(want int) int { return min(max(4*want, 32), queue.MaxKeyWalk) }
