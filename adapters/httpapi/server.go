package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerConfig says where and how the API listens.
type ServerConfig struct {
	// Addr is the listen address; empty means DefaultAddr. ":0" picks a free port.
	Addr string
	// ReadHeaderTimeout bounds how long a client may take to send headers
	// (slowloris); zero means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds how long a client may take to send a whole request,
	// headers and body; zero means DefaultReadTimeout. A body that stalls past
	// it gets 408 and its connection is closed. Handling is not bound by it.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the headers until the
	// response is written; zero means DefaultWriteTimeout. When it passes, the
	// response is lost and the connection closed, whatever the handler does,
	// so it must exceed ReadTimeout and the router's request deadline
	// (Config.RequestTimeout), which answer 408 and 503 in time.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its next
	// request; zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Defaults of ServerConfig. A request needs its body within 10s; its
// handling is bound by the router's request deadline (DefaultRequestTimeout),
// so 30s to write leaves the 408 or 503 that ends a slow request time to be
// sent. 120s of idleness outlasts the 60s that load balancers commonly keep
// idle connections, so they close them first and never reuse one this side
// just closed.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// DefaultAddr is where the API listens unless told otherwise.
const DefaultAddr = ":8080"

// Server runs an http.Handler on a listener it opens itself, so a busy port
// fails startup instead of a goroutine later.
type Server struct {
	cfg    ServerConfig
	srv    *http.Server
	log    *slog.Logger
	onFail func(error)

	mu   sync.Mutex
	addr string
}

// NewServer prepares a server for handler. onFail, if not nil, is called when
// serving stops for any reason other than Stop (the fx module shuts the app down).
func NewServer(cfg ServerConfig, handler http.Handler, log *slog.Logger, onFail func(error)) *Server {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	cfg.ReadHeaderTimeout = orDefault(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	cfg.ReadTimeout = orDefault(cfg.ReadTimeout, DefaultReadTimeout)
	cfg.WriteTimeout = orDefault(cfg.WriteTimeout, DefaultWriteTimeout)
	cfg.IdleTimeout = orDefault(cfg.IdleTimeout, DefaultIdleTimeout)
	// The headers are part of the request ReadTimeout bounds.
	cfg.ReadHeaderTimeout = min(cfg.ReadHeaderTimeout, cfg.ReadTimeout)
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		cfg: cfg,
		srv: &http.Server{Handler: handler, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
			WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		log:    log,
		onFail: onFail,
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Start listens synchronously, then serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http server: listen on %s: %w", s.cfg.Addr, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	s.log.InfoContext(ctx, "http server listening", "addr", s.Addr())
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err.Error())
			if s.onFail != nil {
				s.onFail(err)
			}
		}
	}()
	return nil
}

// Stop stops accepting connections and waits, until ctx ends, for requests in flight.
func (s *Server) Stop(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("http server: shutdown: %w", err)
	}
	return nil
}

// Addr is the address the server listens on once started (with the real
// port when configured with ":0"); empty before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}
