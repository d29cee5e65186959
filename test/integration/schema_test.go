//go:build integration

package integration

import (
	"context"
	"slices"
	"testing"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
)

// TestWrittenColumnsMatchTheSchema: a unit of work's write statement stores
// every column of every table it writes, except those the database computes
// (generated and identity columns), so a column added by a migration cannot be left out
// of the write path, nor a column the migrations dropped linger in it.
func TestWrittenColumnsMatchTheSchema(t *testing.T) {
	t.Parallel()
	l := newLedger(t, system.Clock{})
	for table, written := range postgres.WrittenColumns() {
		var columns []string
		err := l.db.NewRaw(`SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? AND is_generated = 'NEVER' AND is_identity = 'NO' ORDER BY column_name`, table).
			Scan(context.Background(), &columns)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(slices.Values(written)); !slices.Equal(got, columns) {
			t.Errorf("table %s: the write path stores %v, the database has %v", table, got, columns)
		}
	}
}
