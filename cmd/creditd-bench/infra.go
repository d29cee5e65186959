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

// startPostgres starts a fresh, throw-away PostgreSQL container with
// test/postgres/server.sh, the script `make run` uses for its dev database,
// but with no volume: every run starts from an empty database. It listens
// on 127.0.0.1:port (0: a free port), and the DSN and port are returned once
// it accepts TCP connections. fsync and every other setting stay at their
// defaults; pgArgs are extra server arguments such as "-c max_connections=200".
func startPostgres(ctx context.Context, script, image, name string, port int, pgArgs []string) (string, int, error) {
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		return "", 0, fmt.Errorf("image %s not found; run: make postgres-image", image)
	}
	if port == 0 {
		addr, err := freeAddr()
		if err != nil {
			return "", 0, err
		}
		_, p, _ := net.SplitHostPort(addr)
		port, _ = strconv.Atoi(p)
	}
	cmd := exec.CommandContext(ctx, "bash", script, image)
	cmd.Env = append(os.Environ(), "CREDITD_PG_NAME="+name, "CREDITD_DEV_PG_PORT="+strconv.Itoa(port),
		"CREDITD_PG_VOLUME=", "CREDITD_PG_FRESH=1", "CREDITD_PG_ARGS="+strings.Join(pgArgs, " "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w: %s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), port, nil
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
func creditdEnv(dsn, addr string, extra ...string) []string {
	env := os.Environ()
	env = append(env, "DATABASE_URL="+dsn, "CREDITD_LOG_LEVEL=warn")
	if addr != "" {
		env = append(env, "CREDITD_ADDR="+addr)
	}
	return append(env, extra...) // the last of a duplicated variable counts
}

// sellingEnv is what makes creditd sell credits through the fake PortOne at
// portoneURL. Reconciliation is off: the fake lists no payments, and the
// other scenarios ran without it before scenario 5 existed. An idle inbox
// worker looks for events every 250 ms (CREDITD_WEBHOOK_POLL_INTERVAL in
// the environment overrides it), so a drain is noticed soon.
func sellingEnv(portoneURL string) []string {
	env := []string{"PORTONE_API_URL=" + portoneURL, "PORTONE_API_SECRET=" + benchPortOneSecret, "PORTONE_STORE_ID=" + benchStoreID,
		"PORTONE_CHANNEL_KEY=" + benchChannelKey, "PORTONE_WEBHOOK_SECRETS=" + benchWebhookSecret, "CREDITD_RECONCILE_INTERVAL=0"}
	if _, ok := os.LookupEnv("CREDITD_WEBHOOK_POLL_INTERVAL"); !ok {
		env = append(env, "CREDITD_WEBHOOK_POLL_INTERVAL=250ms")
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
func startCreditd(bin, dsn, addr, logPath string, extraEnv []string) (*creditdProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = creditdEnv(dsn, addr, extraEnv...)
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
