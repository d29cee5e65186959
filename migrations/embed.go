// Package migrations holds creditd's PostgreSQL schema as SQL files, embedded
// so the binary migrates the database it is pointed at.
package migrations

import (
	"embed"

	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var files embed.FS

// Migrations is every schema change, in file-name order.
var Migrations = migrate.NewMigrations()

func init() {
	if err := Migrations.Discover(files); err != nil {
		panic(err)
	}
}
