package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// loop runs a job on a timer in one background goroutine. A zero loop is
// stopped; Stop on one never started does nothing.
type loop struct {
	stop   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// start runs job every interval until stop. With interrupt, stop cancels
// the context of a run in flight (which must then end soon); without, stop
// waits for it to finish.
func (l *loop) start(interval time.Duration, interrupt bool, job func(context.Context)) {
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if interrupt {
		ctx, cancel = context.WithCancel(ctx)
	}
	l.stop, l.cancel = make(chan struct{}), cancel
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				job(ctx)
			}
		}
	}()
}

// halt ends the loop (see start) and waits for its goroutine.
func (l *loop) halt() {
	if l.stop == nil {
		return
	}
	close(l.stop)
	l.cancel()
	l.done.Wait()
	l.stop = nil
}

// dueEvery says whether a chore last run at *last (zero: never) is due again
// at now, every apart, and if so notes now as its last run.
func dueEvery(last *time.Time, now time.Time, every time.Duration) bool {
	if !last.IsZero() && now.Sub(*last) < every {
		return false
	}
	*last = now
	return true
}

// forgetFinished runs a janitor's forget, counting and logging what it
// forgot; what names the rows ("processed webhook events").
func forgetFinished(ctx context.Context, log *slog.Logger, forgot prometheus.Counter, what string, forget func(context.Context) (int, error)) {
	n, err := forget(ctx)
	if err != nil {
		log.Error("forgetting "+what+" failed", "error", err.Error())
	} else if n > 0 {
		forgot.Add(float64(n))
		log.Info("forgot "+what, "count", n)
	}
}
