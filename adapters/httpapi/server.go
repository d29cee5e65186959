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
	// (slowloris); zero means 10s.
	ReadHeaderTimeout time.Duration
}

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
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		cfg:    cfg,
		srv:    &http.Server{Handler: handler, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		log:    log,
		onFail: onFail,
	}
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
