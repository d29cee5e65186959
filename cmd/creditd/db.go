package main

import (
	"context"
	"log/slog"

	"github.com/uptrace/bun"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/cmd/creditd/app"
)

type dbHandle = *bun.DB

// withDB opens the database for one admin command and closes it after. Like
// serve, it waits up to CREDITD_DB_CONNECT_TIMEOUT for the server.
func withDB(cfg app.Config, log *slog.Logger, fn func(ctx context.Context, db dbHandle) error) error {
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: 2, ConnectTimeout: cfg.DBConnectTimeout, Log: log})
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(ctx, db)
}
