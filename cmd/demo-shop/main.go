// Command demo-shop is the smallest honest product backend using creditd:
// one page that sells credit packs through PortOne and spends and refunds
// credits, with creditd's API key kept on this server. See package shop for
// the flow, and the README for how to run it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/creditd/creditd/cmd/demo-shop/shop"
)

func main() {
	cfg, err := shop.LoadConfig(env.ToMap(os.Environ()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-shop:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "demo-shop:", err)
		os.Exit(1)
	}
}

func run(cfg shop.Config) error {
	s, err := shop.New(cfg)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second, // creditd may take up to 15 s
		IdleTimeout:       60 * time.Second,
	}
	// Listen before serving, so a busy port fails here and not in a goroutine.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	slog.Info("demo shop listening", "url", "http://"+ln.Addr().String(), "creditd", cfg.CreditdURL, "portoneSDK", cfg.PortOneSDKURL)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills at once
	slog.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
