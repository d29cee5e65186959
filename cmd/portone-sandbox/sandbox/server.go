package sandbox

import "net/http/httptest"

// Server is a Sandbox served on a free loopback port, as tests embed one
// (cmd/portone-sandbox serves its own on SANDBOX_ADDR).
type Server struct {
	*Sandbox
	URL string // http://127.0.0.1:port, the base of every route
	srv *httptest.Server
}

// Start serves a new Sandbox made from cfg.
func Start(cfg Config) (*Server, error) {
	sb, err := New(cfg)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(sb.Handler())
	return &Server{Sandbox: sb, URL: srv.URL, srv: srv}, nil
}

// Close stops the sandbox, then its server: in that order, as the sandbox
// releases held answers the server would wait for.
func (s *Server) Close() {
	s.Sandbox.Close()
	s.srv.Close()
}
