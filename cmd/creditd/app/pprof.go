package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"go.uber.org/fx"
)

// servePprof exposes Go's profiler on its own listener when CREDITD_PPROF_ADDR
// is set, never on the API port: profiles reveal internals and cost CPU.
func servePprof(lc fx.Lifecycle, cfg Config, log *slog.Logger) {
	if cfg.PprofAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.PprofAddr)
			if err != nil {
				return err
			}
			// Sample contention too, so mutex and block profiles have data.
			runtime.SetMutexProfileFraction(100)
			runtime.SetBlockProfileRate(100_000)
			log.Warn("pprof enabled", "addr", ln.Addr().String())
			go func() {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					log.Error("pprof server", "err", err)
				}
			}()
			return nil
		},
		OnStop: srv.Shutdown,
	})
}
