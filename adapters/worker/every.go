package worker

import (
	"context"
	"sync"
	"time"
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
