// Package system adapts the host: its clock and a source of time-ordered ids.
package system

import (
	"time"

	"github.com/google/uuid"

	"github.com/creditd/creditd/application"
)

// Clock is the wall clock in UTC, truncated to PostgreSQL's microseconds so a
// time read back from the database equals the time that was stored.
type Clock struct{}

var _ application.Clock = Clock{}

func (Clock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// UUIDv7 makes time-ordered UUIDs, so ids sort by creation.
type UUIDv7 struct{}

var _ application.IDGenerator = UUIDv7{}

func (UUIDv7) NewID() [16]byte { return uuid.Must(uuid.NewV7()) }
