package postgres

import (
	"slices"
	"sync"
)

// groupQueue runs jobs in groups, so that what arrives together shares one
// round of database work. Up to leaders groups run at once, each on the
// goroutine of its oldest job's caller (its leader). A job that finds no
// group running runs at once; another group starts beside running ones only
// once spill jobs wait, as smaller groups cost more per job. Jobs wait, and
// when a group ends, the oldest of them leads the next group, taking every
// waiting job along. So a lone job runs at once, groups grow only while
// others run, and nothing runs when idle.
//
// A job may name keys it needs to itself (say, the wallets it locks): jobs
// with a key in common never run in two groups at once. They join the same
// group, or the later one waits for the group that holds the key, so groups
// never queue on each other's row locks.
type groupQueue[J any] struct {
	max     int             // largest group
	leaders int             // groups that may run at once
	spill   int             // waiting jobs that start a group beside running ones
	run     func(group []J) // runs a group; must not panic
	keys    func(J) []any   // a job's keys; nil: jobs have none

	mu      sync.Mutex
	waiting []*member[J]
	running int
	held    map[any]*member[J] // keys of running groups, by their leader
}

type member[J any] struct {
	job  J
	keys []any
	done chan struct{} // closed once the job's group has run
	lead chan struct{} // receives when this member is to lead a group
}

func newGroupQueue[J any](maxGroup, leaders, spill int, run func(group []J), keys func(J) []any) *groupQueue[J] {
	return &groupQueue[J]{max: maxGroup, leaders: leaders, spill: max(spill, 1), run: run, keys: keys, held: map[any]*member[J]{}}
}

// do runs job in some group and returns when that group has run.
func (q *groupQueue[J]) do(job J) {
	m := &member[J]{job: job, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	if q.keys != nil {
		m.keys = q.keys(job)
	}
	q.mu.Lock()
	q.waiting = append(q.waiting, m)
	q.dispatch()
	q.mu.Unlock()
	select {
	case <-m.done:
	case <-m.lead:
		q.lead(m)
	}
}

// waitingCount is how many jobs wait for a group.
func (q *groupQueue[J]) waitingCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// free says whether no running group but leader's holds a key of m.
func (q *groupQueue[J]) free(m, leader *member[J]) bool {
	for _, k := range m.keys {
		if h, ok := q.held[k]; ok && h != leader {
			return false
		}
	}
	return true
}

func (q *groupQueue[J]) hold(m, leader *member[J]) {
	for _, k := range m.keys {
		q.held[k] = leader
	}
}

// dispatch starts groups while places are free and enough wait, each led
// by the oldest waiting member whose keys are free. q.mu must be held.
func (q *groupQueue[J]) dispatch() {
	for q.running < q.leaders && (q.running == 0 || len(q.waiting) >= q.spill) {
		i := slices.IndexFunc(q.waiting, func(m *member[J]) bool { return q.free(m, nil) })
		if i < 0 {
			return
		}
		m := q.waiting[i]
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.running++
		q.hold(m, m)
		m.lead <- struct{}{}
	}
}

// lead runs m's job with every waiting job it may take, oldest first, as
// one group, then frees its place for the next.
func (q *groupQueue[J]) lead(m *member[J]) {
	q.mu.Lock()
	group := []*member[J]{m}
	rest := q.waiting[:0]
	for _, w := range q.waiting {
		if len(group) < q.max && q.free(w, m) {
			q.hold(w, m)
			group = append(group, w)
		} else {
			rest = append(rest, w)
		}
	}
	clear(q.waiting[len(rest):])
	q.waiting = rest
	q.mu.Unlock()

	jobs := make([]J, len(group))
	for i, g := range group {
		jobs[i] = g.job
	}
	q.run(jobs)
	for _, g := range group {
		close(g.done)
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	for _, g := range group {
		for _, k := range g.keys {
			delete(q.held, k)
		}
	}
	q.running--
	q.dispatch()
}
