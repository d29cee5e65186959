package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
)

// withDeadline gives the request's context a deadline d from now.
func withDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// await calls into the application, and waits for the answer only until the
// request's context ends. A database that accepts work and never answers
// then costs the client the request deadline and a 503, whatever the layers
// below wait for: the group commit runs batches on contexts of their own, so
// that no caller giving up can abort the others, and bounds them only by a
// timeout of its own. A call left behind finishes on its own; its outcome is
// unknown to the client, who retries with the same Idempotency-Key and then
// gets that outcome, once.
//
// call runs on another goroutine, so it must not touch the gin.Context.
func await[T any](ctx context.Context, log *slog.Logger, call func(context.Context) (T, error)) (T, error) {
	type result struct {
		value    T
		err      error
		panicked any
		stack    []byte
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panicked, r.stack = p, debug.Stack()
			}
			done <- r
		}()
		r.value, r.err = call(ctx)
	}()
	select {
	case r := <-done:
		if r.panicked != nil { // for recovery, on the request's goroutine
			panic(fmt.Sprintf("%v [recovered from a call into the application; its stack:\n%s]", r.panicked, r.stack))
		}
		return r.value, r.err
	case <-ctx.Done():
		go func() { // nobody waits for it any more: a panic would go unseen
			if r := <-done; r.panicked != nil {
				log.Error("panic in a call left behind by its request", "panic", fmt.Sprint(r.panicked), "stack", string(r.stack))
			}
		}()
		var zero T
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return zero, fmt.Errorf("%w: no answer before the request's deadline", application.ErrUnavailable)
		}
		return zero, ctx.Err() // the client has gone
	}
}
