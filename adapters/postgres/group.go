package postgres

import (
	"context"
	"slices"
	"sync"
)

// groupQueue runs jobs in groups, so that what arrives together shares one
// round of database work. Up to lanes groups run at once, each on a lane: a
// goroutine of the queue's own, whose stack has long grown to what a group
// needs. A job that finds no group running starts one at once; another group
// starts beside running ones only once spill jobs wait, as smaller groups
// cost more per job. Jobs wait, and when a group ends, its lane takes the
// oldest of them and every other waiting job along as the next group. So a
// lone job runs at once, groups grow only while others run, and nothing runs
// when idle.
//
// A job may name keys it needs to itself (say, the wallets it locks): jobs
// with a key in common never run in two groups at once. They join the same
// group, or the later one waits for the group that holds the key, so groups
// never queue on each other's row locks.
//
// A caller whose context ends stops waiting: its job is dropped if no group
// has taken it yet, and otherwise runs on without it (its outcome is then
// unknown to the caller). So no caller waits past its deadline, whatever the
// database does, and no caller giving up can abort the others' group.
type groupQueue[J any] struct {
	max   int             // largest group
	spill int             // waiting jobs that start a group beside running ones
	run   func(group []J) // runs a group; must not panic
	keys  func(J) []any   // a job's keys; nil: jobs have none
	lanes chan *member[J] // a lane takes a group's first member from here

	mu      sync.Mutex
	waiting []*member[J]
	running int
	held    map[any]*member[J] // keys of running groups, by their first member
}

type member[J any] struct {
	job  J
	keys []any
	done chan struct{} // closed once the job's group has run
}

func newGroupQueue[J any](maxGroup, lanes, spill int, run func(group []J), keys func(J) []any) *groupQueue[J] {
	q := &groupQueue[J]{max: maxGroup, spill: max(spill, 1), run: run, keys: keys,
		lanes: make(chan *member[J], lanes), held: map[any]*member[J]{}}
	for range lanes {
		go q.lane()
	}
	return q
}

// do runs job in some group and returns nil once that group has run, or
// ctx's error as soon as ctx ends: then job did not run if no group had taken
// it yet, and otherwise runs on, its outcome unknown to the caller.
func (q *groupQueue[J]) do(ctx context.Context, job J) error {
	m := &member[J]{job: job, done: make(chan struct{})}
	if q.keys != nil {
		m.keys = q.keys(job)
	}
	q.mu.Lock()
	q.waiting = append(q.waiting, m)
	q.dispatch()
	q.mu.Unlock()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		if i := slices.Index(q.waiting, m); i >= 0 {
			q.waiting = slices.Delete(q.waiting, i, i+1)
		}
		q.mu.Unlock()
		return ctx.Err()
	}
}

// waitingCount is how many jobs wait for a group.
func (q *groupQueue[J]) waitingCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// free says whether no running group but first's holds a key of m.
func (q *groupQueue[J]) free(m, first *member[J]) bool {
	for _, k := range m.keys {
		if h, ok := q.held[k]; ok && h != first {
			return false
		}
	}
	return true
}

func (q *groupQueue[J]) hold(m, first *member[J]) {
	for _, k := range m.keys {
		q.held[k] = first
	}
}

// dispatch starts groups while lanes are free and enough wait, each with
// the oldest waiting member whose keys are free. The channel has a place per
// lane, so the send never blocks. q.mu must be held.
func (q *groupQueue[J]) dispatch() {
	for q.running < cap(q.lanes) && (q.running == 0 || len(q.waiting) >= q.spill) {
		i := slices.IndexFunc(q.waiting, func(m *member[J]) bool { return q.free(m, nil) })
		if i < 0 {
			return
		}
		m := q.waiting[i]
		q.waiting = slices.Delete(q.waiting, i, i+1)
		q.running++
		q.hold(m, m)
		q.lanes <- m
	}
}

// lane runs groups, one after another, for as long as the process lives.
func (q *groupQueue[J]) lane() {
	for first := range q.lanes {
		q.runFrom(first)
	}
}

// runFrom runs first's job with every waiting job it may take, oldest
// first, as one group, then frees its lane for the next.
func (q *groupQueue[J]) runFrom(first *member[J]) {
	q.mu.Lock()
	group := []*member[J]{first}
	rest := q.waiting[:0]
	for _, w := range q.waiting {
		if len(group) < q.max && q.free(w, first) {
			q.hold(w, first)
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
