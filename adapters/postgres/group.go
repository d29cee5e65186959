package postgres

import "sync"

// groupQueue runs jobs in groups, so that what arrives together shares one
// round of database work. A caller that finds nobody running becomes the
// leader: it runs every job queued so far (itself included) as one group,
// on its own goroutine. Jobs that arrive meanwhile wait; when the group is
// done, the oldest of them leads the next one. So a lone job runs at once,
// groups grow only while others are running, and nothing runs when idle.
type groupQueue[J any] struct {
	max     int             // largest group
	run     func(group []J) // runs a group; must not panic
	mu      sync.Mutex
	waiting []*member[J]
	leading bool // a leader is running a group
}

type member[J any] struct {
	job  J
	done chan struct{} // closed once the job's group has run
	lead chan struct{} // receives when this member is to lead the next group
}

func newGroupQueue[J any](max int, run func(group []J)) *groupQueue[J] {
	return &groupQueue[J]{max: max, run: run}
}

// do runs job in some group and returns when that group has run.
func (q *groupQueue[J]) do(job J) {
	m := &member[J]{job: job, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	q.mu.Lock()
	q.waiting = append(q.waiting, m)
	if q.leading {
		q.mu.Unlock()
		select {
		case <-m.done:
			return
		case <-m.lead: // m is the oldest waiting member: the group it leads holds it
		}
	} else {
		q.leading = true
		q.mu.Unlock()
	}
	q.lead()
}

// waitingCount is how many jobs wait for a group.
func (q *groupQueue[J]) waitingCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// lead runs the oldest waiting members as one group, then hands the lead to
// the next waiting member, or gives it up when nobody waits.
func (q *groupQueue[J]) lead() {
	q.mu.Lock()
	n := min(len(q.waiting), q.max)
	group := make([]*member[J], n)
	copy(group, q.waiting)
	q.waiting = append(q.waiting[:0], q.waiting[n:]...)
	q.mu.Unlock()

	jobs := make([]J, n)
	for i, m := range group {
		jobs[i] = m.job
	}
	q.run(jobs)
	for _, m := range group {
		close(m.done)
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.leading = false
		return
	}
	q.waiting[0].lead <- struct{}{}
}
