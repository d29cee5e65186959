package postgres

import "sync"

// groupQueue runs jobs in groups, so that what arrives together shares one
// round of database work. A caller that finds fewer than leaders groups
// running becomes a leader: it runs its job at once, on its own goroutine,
// with whatever else is waiting. Otherwise it waits; when a group is done,
// its leader hands over to the oldest waiting caller, who runs the jobs that
// have gathered meanwhile as the next group. So a lone job runs at once,
// groups grow only while others are running, and nothing runs when idle.
type groupQueue[J any] struct {
	max     int             // largest group
	leaders int             // groups that may run at once
	run     func(group []J) // runs a group; must not panic

	mu      sync.Mutex
	waiting []*member[J]
	running int // groups running
}

type member[J any] struct {
	job  J
	done chan struct{} // closed once the job's group has run
	lead chan struct{} // receives when this member is to lead the next group
}

func newGroupQueue[J any](max, leaders int, run func(group []J)) *groupQueue[J] {
	return &groupQueue[J]{max: max, leaders: leaders, run: run}
}

// do runs job in some group and returns when that group has run.
func (q *groupQueue[J]) do(job J) {
	m := &member[J]{job: job, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	q.mu.Lock()
	if q.running < q.leaders {
		q.running++
		q.mu.Unlock()
		q.lead(m)
		return
	}
	q.waiting = append(q.waiting, m)
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

// lead runs m's job with the oldest waiting ones as one group, then hands
// the lead to the next waiting member, or gives it up when nobody waits.
func (q *groupQueue[J]) lead(m *member[J]) {
	q.mu.Lock()
	n := min(len(q.waiting), q.max-1)
	group := make([]*member[J], 0, n+1)
	group = append(append(group, m), q.waiting[:n]...)
	q.waiting = append(q.waiting[:0], q.waiting[n:]...)
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
	if len(q.waiting) == 0 {
		q.running--
		q.mu.Unlock()
		return
	}
	next := q.waiting[0]
	q.waiting = append(q.waiting[:0], q.waiting[1:]...)
	q.mu.Unlock()
	next.lead <- struct{}{}
}
