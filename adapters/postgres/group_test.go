package postgres

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGroupQueueRunsALoneJobAtOnce(t *testing.T) {
	var groups [][]int
	q := newGroupQueue(8, func(g []int) { groups = append(groups, slices.Clone(g)) })
	q.do(1)
	q.do(2)
	if want := [][]int{{1}, {2}}; !slices.EqualFunc(groups, want, slices.Equal) {
		t.Fatalf("groups %v, want %v", groups, want)
	}
}

// TestGroupQueueGroupsWhatArrivesMeanwhile: jobs that arrive while a group
// runs wait, and then run together, oldest first, at most max at a time;
// each caller returns only once its own group has run.
func TestGroupQueueGroupsWhatArrivesMeanwhile(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var groups [][]int
	ran := map[int]bool{}
	q := newGroupQueue(3, func(g []int) {
		if g[0] == 0 {
			close(started)
			<-release // the first group holds the lane while the others queue
		}
		mu.Lock()
		defer mu.Unlock()
		groups = append(groups, slices.Clone(g))
		for _, j := range g {
			ran[j] = true
		}
	})
	var wg sync.WaitGroup
	returned := make(chan int, 8)
	start := func(j int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.do(j)
			mu.Lock()
			if !ran[j] {
				t.Errorf("do(%d) returned before its group ran", j)
			}
			mu.Unlock()
			returned <- j
		}()
	}
	start(0)
	<-started
	for j := 1; j <= 5; j++ {
		start(j)
		waitFor(t, "job to queue", func() bool { return q.waitingCount() == j })
	}
	close(release)
	wg.Wait()
	want := [][]int{{0}, {1, 2, 3}, {4, 5}}
	if !slices.EqualFunc(groups, want, slices.Equal) {
		t.Fatalf("groups %v, want %v", groups, want)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.leading || len(q.waiting) != 0 {
		t.Fatalf("after the last group: leading %v, waiting %d; want idle", q.leading, len(q.waiting))
	}
}

// TestGroupQueueUnderLoad: every job runs exactly once whatever the timing.
func TestGroupQueueUnderLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	q := newGroupQueue(16, func(g []int) {
		mu.Lock()
		defer mu.Unlock()
		for _, j := range g {
			seen[j]++
		}
	})
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				q.do(w*1000 + i)
			}
		}()
	}
	wg.Wait()
	if len(seen) != 32*500 {
		t.Fatalf("%d distinct jobs ran, want %d", len(seen), 32*500)
	}
	for j, n := range seen {
		if n != 1 {
			t.Fatalf("job %d ran %d times", j, n)
		}
	}
}
