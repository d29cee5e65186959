package httpapi

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// withDeadline gives the request's context a deadline d from now. The
// ports honour it: a caller waiting for the group commit or a shared read
// stops waiting at its deadline (the work goes on without it), and a
// statement of its own is cancelled; either way the request gets 503
// unavailable, whatever the database does.
func withDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
