package postgres

import (
	"context"
	"database/sql/driver"

	"github.com/uptrace/bun"
)

// ReconcileLockKey is the advisory lock key scheduled reconciliation runs
// take, so only one replica runs at a time ("creditd!" in ASCII).
const ReconcileLockKey int64 = 0x6372656469746421

// TryAdvisoryLock takes PostgreSQL's session advisory lock key if no other
// session holds it, on a connection of its own that it keeps until release
// (the lock ends with the connection, so a crashed replica never keeps it).
// acquired is false when another session holds the lock.
func TryAdvisoryLock(ctx context.Context, db *bun.DB, key int64) (release func(), acquired bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, false, translate(err, "advisory lock: connect")
	}
	if err := conn.NewRaw("SELECT pg_try_advisory_lock(?)", key).Scan(ctx, &acquired); err != nil || !acquired {
		conn.Close()
		return nil, false, translate(err, "advisory lock")
	}
	return func() {
		// Closing returns the connection to the pool: unlock first, and if
		// that fails, discard the connection (ending its session and the
		// lock) rather than pool it still holding the lock.
		var unlocked bool
		if err := conn.NewRaw("SELECT pg_advisory_unlock(?)", key).Scan(context.WithoutCancel(ctx), &unlocked); err != nil || !unlocked {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, true, nil
}
