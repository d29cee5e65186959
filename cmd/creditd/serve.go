package main

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/creditd/creditd/cmd/creditd/app"
)

type serveCmd struct{}

func (serveCmd) Run(cfg app.Config, log *slog.Logger) error {
	service := fx.New(app.Options(cfg, log))
	if err := service.Err(); err != nil {
		return err
	}
	service.Run() // until SIGINT/SIGTERM, then stops hooks in reverse order within the shutdown timeout
	return nil
}
