package postgres

import (
	"context"
	"errors"
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
	q := newGroupQueue(8, 1, 1, func(g []int) { groups = append(groups, slices.Clone(g)) }, nil)
	q.do(context.Background(), 1)
	q.do(context.Background(), 2)
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
	q := newGroupQueue(3, 1, 1, func(g []int) {
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
	}, nil)
	var wg sync.WaitGroup
	returned := make(chan int, 8)
	start := func(j int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.do(context.Background(), j)
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
	if q.running != 0 || len(q.waiting) != 0 {
		t.Fatalf("after the last group: %d running, %d waiting; want idle", q.running, len(q.waiting))
	}
}

// TestGroupQueueLeaders: with two leaders, two groups run at once, and a
// third caller waits for one of them.
func TestGroupQueueLeaders(t *testing.T) {
	release := make(chan struct{})
	var running, most sync.Map
	var mu sync.Mutex
	now := 0
	q := newGroupQueue(8, 2, 1, func(g []int) {
		mu.Lock()
		now++
		most.Store(now, true)
		mu.Unlock()
		running.Store(g[0], true)
		if g[0] < 2 {
			<-release
		}
		mu.Lock()
		now--
		mu.Unlock()
	}, nil)
	var wg sync.WaitGroup
	for j := range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); q.do(context.Background(), j) }()
	}
	waitFor(t, "two groups to run at once", func() bool { _, ok := most.Load(2); return ok })
	wg.Add(1)
	go func() { defer wg.Done(); q.do(context.Background(), 2) }()
	waitFor(t, "the third job to wait", func() bool { return q.waitingCount() == 1 })
	if _, ok := running.Load(2); ok {
		t.Fatal("a third group ran beside two leaders")
	}
	close(release)
	wg.Wait()
	if _, ok := running.Load(2); !ok {
		t.Fatal("the third job never ran")
	}
}

// TestGroupQueueSpill: beside a running group, another starts only once
// spill jobs wait; with none running, a job starts at once.
func TestGroupQueueSpill(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var groups [][]int
	q := newGroupQueue(8, 2, 3, func(g []int) {
		mu.Lock()
		groups = append(groups, slices.Clone(g))
		mu.Unlock()
		if g[0] == 0 {
			<-release
		}
	}, nil)
	ran := func(n int) func() bool { return func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == n } }
	var wg sync.WaitGroup
	start := func(j int) {
		wg.Add(1)
		go func() { defer wg.Done(); q.do(context.Background(), j) }()
	}
	start(0)
	waitFor(t, "job 0 to start at once", ran(1))
	start(1)
	waitFor(t, "job 1 to wait", func() bool { return q.waitingCount() == 1 })
	start(2)
	waitFor(t, "job 2 to wait", func() bool { return q.waitingCount() == 2 })
	if ran(2)() {
		t.Fatal("a second group started with 2 waiting, spill 3")
	}
	start(3)
	waitFor(t, "the third waiting job to start a second group", ran(2))
	close(release)
	wg.Wait()
	if want := [][]int{{0}, {1, 2, 3}}; !slices.EqualFunc(groups, want, slices.Equal) {
		t.Fatalf("groups %v, want %v", groups, want)
	}
}

// TestGroupQueueKeys: a job whose key a running group holds waits for that
// group, even with a place free, while a job with other keys takes the
// place at once.
func TestGroupQueueKeys(t *testing.T) {
	release := map[int]chan struct{}{0: make(chan struct{}), 3: make(chan struct{})}
	var mu sync.Mutex
	var order []int
	q := newGroupQueue(8, 2, 1, func(g []int) {
		mu.Lock()
		order = append(order, g...)
		mu.Unlock()
		if c := release[g[0]]; c != nil {
			<-c
		}
	}, func(j int) []any {
		if j == 0 || j == 2 {
			return []any{"wallet w"}
		}
		return []any{j}
	})
	ran := func(j int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(order, j) }
	}
	var wg sync.WaitGroup
	start := func(j int) {
		wg.Add(1)
		go func() { defer wg.Done(); q.do(context.Background(), j) }()
	}
	start(0) // holds w until released
	waitFor(t, "job 0", ran(0))
	start(1)
	waitFor(t, "job 1 beside job 0", ran(1))
	start(2) // w is held: waits although a place is free
	waitFor(t, "job 2 to wait", func() bool { return q.waitingCount() == 1 })
	start(3)
	waitFor(t, "job 3 to take the free place", ran(3))
	if ran(2)() {
		t.Fatal("job 2 ran while job 0 held its key")
	}
	close(release[3])
	close(release[0])
	wg.Wait()
	if !ran(2)() {
		t.Fatal("job 2 never ran")
	}
}

// TestGroupQueueUnderLoad: every job runs exactly once whatever the timing,
// and no key is in two running groups at once.
func TestGroupQueueUnderLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	busy := map[int]int{} // key → groups running with it
	q := newGroupQueue(16, 4, 1, func(g []int) {
		mu.Lock()
		keys := map[int]bool{}
		for _, j := range g {
			seen[j]++
			keys[j%7] = true
		}
		for k := range keys {
			if busy[k]++; busy[k] > 1 {
				t.Errorf("key %d in two running groups", k)
			}
		}
		mu.Unlock()
		time.Sleep(10 * time.Microsecond)
		mu.Lock()
		for k := range keys {
			busy[k]--
		}
		mu.Unlock()
	}, func(j int) []any { return []any{j % 7} })
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				q.do(context.Background(), w*1000+i)
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

// TestGroupQueueCallerStopsWaitingAtItsDeadline: a caller whose context ends
// returns at once, whether its job still waited (then it never runs) or its
// group was running (then the group runs on, and the others in it are not
// disturbed).
func TestGroupQueueCallerStopsWaitingAtItsDeadline(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	ran := map[int]bool{}
	q := newGroupQueue(8, 1, 1, func(g []int) {
		if g[0] == 0 {
			close(started)
			<-release
		}
		mu.Lock()
		defer mu.Unlock()
		for _, j := range g {
			ran[j] = true
		}
	}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	running := make(chan error, 1)
	go func() { running <- q.do(ctx, 0) }()
	<-started
	waited := make(chan error, 1)
	go func() { waited <- q.do(ctx, 1) }()
	other := make(chan error, 1)
	go func() { other <- q.do(context.Background(), 2) }()
	for _, c := range []chan error{running, waited} {
		select {
		case err := <-c:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("do past its deadline = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a caller waited past its deadline")
		}
	}
	close(release)
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !ran[0] || ran[1] || !ran[2] {
		t.Fatalf("ran %v: want the running group finished, the abandoned waiting job dropped, the other run", ran)
	}
}
