package queuetest

import (
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spooljobs/spool/queue"
)

// leaderArea: queue.Leader, the election of one holder per role.
var leaderArea = area{"Leader", []testCase{
	{"OneHolderAtATime", testLeaderOneHolder},
	{"RenewalKeepsIt", testLeaderRenewal},
	{"ExpiryHandsOver", testLeaderExpiry},
	{"ResignFrees", testLeaderResign},
	{"NamesAreSeparate", testLeaderNames},
	{"RacingCallersElectOne", testLeaderRace},
	{"BadArgumentsRefused", testLeaderInvalid},
}}

// leaderTTL is the term the cases grant.
const leaderTTL = 10 * time.Second

// leaderStore returns the store as a Leader, skipping the case when the
// backend elects no leaders.
func (e *env) leaderStore() queue.Leader {
	l, ok := e.store.(queue.Leader)
	if !ok {
		e.t.Skip("backend does not implement queue.Leader: leader election untested")
	}
	return l
}

// lead asks for the role name for holder at the clock's now.
func (e *env) lead(name, holder string) bool {
	e.t.Helper()
	ok, err := e.leaderStore().Lead(e.ctx, name, holder, e.clock.Now(), leaderTTL)
	require.NoError(e.t, err)
	return ok
}

func testLeaderOneHolder(e *env) {
	require.True(e.t, e.lead("maintenance", "a"), "a free role is taken")
	require.True(e.t, e.lead("maintenance", "a"), "the holder keeps it")
	require.False(e.t, e.lead("maintenance", "b"), "another is refused while a holds it")
	e.clock.Advance(leaderTTL)
	require.False(e.t, e.lead("maintenance", "b"), "still a's at the end of its term")
}

func testLeaderRenewal(e *env) {
	require.True(e.t, e.lead("maintenance", "a"))
	for range 5 {
		e.clock.Advance(leaderTTL - time.Second)
		require.True(e.t, e.lead("maintenance", "a"), "renewed before its term ends")
		require.False(e.t, e.lead("maintenance", "b"), "each renewal extends a's term")
	}
}

func testLeaderExpiry(e *env) {
	require.True(e.t, e.lead("maintenance", "a"))
	e.clock.Advance(leaderTTL + time.Millisecond)
	require.True(e.t, e.lead("maintenance", "b"), "a stopped renewing: b takes over")
	require.False(e.t, e.lead("maintenance", "a"), "a comes back to find b holding it")
	e.clock.Advance(leaderTTL - time.Second)
	require.True(e.t, e.lead("maintenance", "b"), "b's term runs from its own call")
}

func testLeaderResign(e *env) {
	l := e.leaderStore()
	require.True(e.t, e.lead("maintenance", "a"))
	require.NoError(e.t, l.Resign(e.ctx, "maintenance", "b"), "resigning a role held by another is no error")
	require.False(e.t, e.lead("maintenance", "b"), "and frees nothing")
	require.NoError(e.t, l.Resign(e.ctx, "maintenance", "a"))
	require.True(e.t, e.lead("maintenance", "b"), "resigned: free at once, before a's term ended")
	require.NoError(e.t, l.Resign(e.ctx, "nothing", "a"), "resigning a role nobody holds is no error")
}

func testLeaderNames(e *env) {
	require.True(e.t, e.lead("maintenance", "a"))
	require.True(e.t, e.lead("scheduler", "b"), "roles are elected separately")
	require.False(e.t, e.lead("scheduler", "a"))
}

// Callers racing for a free role (hosts starting at once): exactly one
// wins.
func testLeaderRace(e *env) {
	l := e.leaderStore()
	now := e.clock.Now()
	const n = 8
	won := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], errs[i] = l.Lead(e.ctx, "maintenance", string(rune('a'+i)), now, leaderTTL)
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		require.NoError(e.t, errs[i])
		if won[i] {
			winners++
		}
	}
	require.Equal(e.t, 1, winners)
}

func testLeaderInvalid(e *env) {
	l := e.leaderStore()
	now := e.clock.Now()
	for _, c := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", time.Second}, {"maintenance", "", time.Second}, {"maintenance", "a", 0}, {"maintenance", "a", -time.Second}} {
		ok, err := l.Lead(e.ctx, c.name, c.holder, now, c.ttl)
		require.ErrorIs(e.t, err, queue.ErrInvalidArgument, "%+v", c)
		require.False(e.t, ok)
	}
	require.True(e.t, e.lead("maintenance", "a"), "nothing was taken")
}
