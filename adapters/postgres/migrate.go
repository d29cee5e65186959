package postgres

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/creditd/creditd/migrations"
)

// migrationLockKey is the advisory lock that keeps two processes from
// migrating at once. An advisory lock, unlike bun's lock table, is released
// by PostgreSQL when a migrating process dies.
const migrationLockKey = 0x637265646974 // "credit"

// Migrate applies every pending migration and reports which ones it applied.
func Migrate(ctx context.Context, db *bun.DB) ([]string, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockKey); err != nil {
		return nil, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockKey) //nolint:errcheck // closing the session frees it too

	m := migrate.NewMigrator(db, migrations.Migrations)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: init: %w", err)
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var applied []string
	for _, mg := range group.Migrations {
		applied = append(applied, mg.Name)
	}
	return applied, nil
}

// MigrateURL opens the database at url, migrates it and closes it; for tests and tools.
func MigrateURL(ctx context.Context, url string) error {
	db, err := Open(ctx, Config{URL: url, MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = Migrate(ctx, db)
	return err
}

// Ready reports an error unless the database answers and every migration is applied.
func Ready(ctx context.Context, db *bun.DB) error {
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	ms, err := migrate.NewMigrator(db, migrations.Migrations).MigrationsWithStatus(ctx)
	if err != nil {
		return fmt.Errorf("read migration status: %w", err)
	}
	if pending := ms.Unapplied(); len(pending) > 0 {
		return fmt.Errorf("%d migrations not applied, first %s", len(pending), pending[0].Name)
	}
	return nil
}
