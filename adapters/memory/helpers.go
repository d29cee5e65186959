package memory

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/creditd/creditd/application"
)

var (
	_ application.Clock       = (*FixedClock)(nil)
	_ application.IDGenerator = (*SequentialIDs)(nil)
)

// FixedClock is a Clock that moves only when told to. It is safe for
// concurrent use; the zero value reads the zero time.
type FixedClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFixedClock returns a clock stopped at now.
func NewFixedClock(now time.Time) *FixedClock { return &FixedClock{now: now} }

func (c *FixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *FixedClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d and returns the new time.
func (c *FixedClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// SequentialIDs makes deterministic ids from a counter, shaped as UUIDv7
// with the counter where the timestamp goes: their bytes and their text sort
// in the order they were made, as the application requires, and a seeded
// test sees the same ids on every run. Use one generator per store, or ids
// collide. The zero value is ready; it is safe for concurrent use.
type SequentialIDs struct{ n atomic.Uint64 }

func (g *SequentialIDs) NewID() [16]byte {
	var id [16]byte
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], g.n.Add(1))
	copy(id[:6], n[2:]) // 48 bits of counter
	id[6] = 0x70        // version 7
	id[8] = 0x80        // RFC 9562 variant
	return id
}
