package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ---------------------------------------------------------------------------
// The benchmark PostgreSQL container

// startPostgres starts a fresh, throw-away PostgreSQL container (the way
// test/postgres/dev.sh does, but without a named volume: every run starts from
// an empty database) published on 127.0.0.1:port (0: a free port docker
// picks), and returns its DSN and port once it accepts TCP connections. fsync
// and every other setting stay at their defaults; pgArgs are extra server
// arguments such as "-c max_connections=200".
func startPostgres(ctx context.Context, image, name string, port int, pgArgs []string) (string, int, error) {
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		return "", 0, fmt.Errorf("image %s not found; run: make postgres-image", image)
	}
	_ = exec.Command("docker", "rm", "-f", name).Run() // left over from a killed run
	hostPort := ""
	if port != 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return "", 0, fmt.Errorf("port %d is taken (use another -pg-port, or 0): %w", port, err)
		}
		ln.Close()
		hostPort = strconv.Itoa(port)
	}
	args := []string{"run", "-d", "--rm", "--name", name, "--stop-signal", "SIGINT", // SIGINT = fast shutdown
		"-e", "POSTGRES_USER=creditd", "-e", "POSTGRES_PASSWORD=creditd", "-e", "POSTGRES_DB=creditd",
		"-p", "127.0.0.1:" + hostPort + ":5432", image}
	if len(pgArgs) > 0 {
		args = append(append(args, "postgres"), pgArgs...)
	}
	if out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("docker run: %w: %s", err, out)
	}
	out, err := exec.Command("docker", "port", name, "5432/tcp").Output()
	if err != nil {
		return "", 0, fmt.Errorf("docker port %s: %w", name, err)
	}
	// "127.0.0.1:49153", one line per binding
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if port, err = strconv.Atoi(first[strings.LastIndexByte(first, ':')+1:]); err != nil {
		return "", 0, fmt.Errorf("docker port %s: %q", name, out)
	}
	// Probe over TCP inside the container: during first-time init only a
	// socket-only temporary server runs, which must not count as ready.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if exec.CommandContext(ctx, "docker", "exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-U", "creditd", "-d", "creditd").Run() == nil {
			return fmt.Sprintf("postgres://creditd:creditd@127.0.0.1:%d/creditd?sslmode=disable", port), port, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	logs, _ := exec.Command("docker", "logs", "--tail", "30", name).CombinedOutput()
	return "", 0, fmt.Errorf("%s did not become ready: %s", name, logs)
}

// stopPostgres removes the container with its anonymous data volume at once
// (its data is throw-away); the image stays.
func stopPostgres(name string) error {
	out, err := exec.Command("docker", "rm", "-f", "-v", name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such container") {
		return fmt.Errorf("docker rm %s: %w: %s", name, err, out)
	}
	return nil
}

// ---------------------------------------------------------------------------
// creditd as a subprocess

// creditdEnv is the environment for creditd commands: ours plus the
// database, listen address and log level, so CREDITD_* tuning variables set by
// whoever runs the benchmark (e.g. CREDITD_DB_MAX_CONNS) reach creditd.
func creditdEnv(dsn, addr string) []string {
	env := os.Environ()
	env = append(env, "DATABASE_URL="+dsn, "CREDITD_LOG_LEVEL=warn")
	if addr != "" {
		env = append(env, "CREDITD_ADDR="+addr)
	}
	return env
}

// creditdCommand runs one admin command (migrate, apikey create, verify) and
// returns its stdout; stderr is included in the error.
func creditdCommand(ctx context.Context, bin, dsn string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = creditdEnv(dsn, "")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("creditd %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

type creditdProcess struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logPath string
}

// startCreditd starts `bin serve` in its own process group (so a Ctrl-C in
// the terminal reaches only us, and we stop it in order), logging to logPath.
func startCreditd(bin, dsn, addr, logPath string) (*creditdProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = creditdEnv(dsn, addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// No Pdeathsig: it fires when the OS thread that started the child exits,
	// which the Go runtime may do at any time.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &creditdProcess{cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

func (p *creditdProcess) pid() int { return p.cmd.Process.Pid }

// waitReady polls /readyz until it answers 200, the process exits or timeout.
func (p *creditdProcess) waitReady(ctx context.Context, base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return p.exitError()
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("creditd not ready after %s; log:\n%s", timeout, tailFile(p.logPath, 20))
}

// stop sends SIGTERM (graceful shutdown) and kills after timeout.
func (p *creditdProcess) stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		var ee *exec.ExitError
		if p.waitErr != nil && !errors.As(p.waitErr, &ee) {
			return p.waitErr
		}
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("creditd did not stop within %s; killed", timeout)
	}
}

func (p *creditdProcess) exitError() error {
	return fmt.Errorf("creditd exited (%v); last lines of %s:\n%s", p.waitErr, p.logPath, tailFile(p.logPath, 20))
}

func (p *creditdProcess) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// logSummary counts creditd's log lines by level and message (JSON lines from
// slog), for the report: at warn level a clean run logs nothing.
func logSummary(path string) map[string]int {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		level, msg := jsonField(line, "level"), jsonField(line, "msg")
		if level == "" {
			level, msg = "TEXT", line
		}
		if len(msg) > 100 {
			msg = msg[:100] + "…"
		}
		counts[level+": "+msg]++
	}
	return counts
}

// jsonField extracts a top-level string field from a JSON log line without
// decoding all of it.
func jsonField(line, name string) string {
	key := `"` + name + `":"`
	i := strings.Index(line, key)
	if i < 0 {
		return ""
	}
	rest := line[i+len(key):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

func tailFile(path string, lines int) string {
	b, _ := os.ReadFile(path)
	return tail(string(b), lines)
}

// freeAddr returns 127.0.0.1:<a free port>.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
