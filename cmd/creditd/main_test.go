package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// binary is creditd built by TestMain, with a stamped version, so the tests
// see exactly what a user runs: exit codes, stdout and stderr.
var binary string

const testVersion = "v9.9.9-test"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "creditd-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "creditd")
	build := exec.Command("go", "build", "-o", binary,
		"-ldflags", "-X github.com/creditd/creditd/cmd/creditd/app.version="+testVersion, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build creditd:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// run runs creditd with args and only the given environment (plus PATH).
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	started := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(started)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run creditd %v: %v", args, err)
	}
	return r
}

// closedPort is a local TCP port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

const password = "pw-Secret-4711"

func unreachableDB(t *testing.T) string {
	return fmt.Sprintf("postgres://creditd:%s@127.0.0.1:%d/creditd?sslmode=disable", password, closedPort(t))
}

// TestUnreachableDatabase: serve retries for CREDITD_DB_CONNECT_TIMEOUT, then
// says in one line what failed, where (without the password) and why, and
// exits 1; no fx dependency graph.
func TestUnreachableDatabase(t *testing.T) {
	dsn := unreachableDB(t)
	r := run(t, map[string]string{"DATABASE_URL": dsn, "CREDITD_DB_CONNECT_TIMEOUT": "1500ms"}, "serve")
	if r.code != exitFailure {
		t.Errorf("exit code %d, want %d", r.code, exitFailure)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || len(r.stderr) > 300 {
		t.Errorf("stderr is %d lines, %d bytes; want one short line:\n%s", len(lines), len(r.stderr), r.stderr)
	}
	where := strings.Replace(strings.TrimSuffix(dsn, "?sslmode=disable"), ":"+password, "", 1)
	for _, want := range []string{"creditd: connect to " + where + ": gave up after", "connection refused"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, unwanted := range []string{password, "fx.", "could not build", "failed to build"} {
		if strings.Contains(r.stderr+r.stdout, unwanted) {
			t.Errorf("output contains %q:\n%s%s", unwanted, r.stdout, r.stderr)
		}
	}
	if r.took < time.Second || r.took > 15*time.Second {
		t.Errorf("took %s: want retries for about the 1.5 s window", r.took)
	}

	// 0 tries once.
	r = run(t, map[string]string{"DATABASE_URL": dsn, "CREDITD_DB_CONNECT_TIMEOUT": "0"}, "serve")
	if r.code != exitFailure || strings.Contains(r.stderr, "gave up after") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("CREDITD_DB_CONNECT_TIMEOUT=0: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestExitCodes: 2 when the command line or the configuration is wrong, 1
// when the command ran and failed, 0 for --version and --help.
func TestExitCodes(t *testing.T) {
	db := map[string]string{"DATABASE_URL": unreachableDB(t), "CREDITD_DB_CONNECT_TIMEOUT": "0"}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"unknown command", db, []string{"bogus"}, exitUsage, "unexpected argument bogus"},
		{"unknown flag", db, []string{"serve", "--bogus"}, exitUsage, "unknown flag --bogus"},
		{"missing required flag", db, []string{"apikey", "create"}, exitUsage, "missing flags: --tenant"},
		{"missing argument", db, []string{"apikey", "revoke"}, exitUsage, "expected \"<id>\""},
		{"bad flag value", db, []string{"apikey", "create", "--tenant", "Not Valid"}, exitUsage, "--tenant: invalid input"},
		{"bad list value", db, []string{"apikey", "create", "--tenant", "acme", "--scopes", "credits:read,credits:fly"}, exitUsage, "--scopes: invalid input"},
		{"bad argument", db, []string{"apikey", "revoke", "42"}, exitUsage, "<id>: invalid input"},
		{"bad configuration", map[string]string{"DATABASE_URL": db["DATABASE_URL"], "CREDITD_ADDR": ":99999"}, []string{"migrate"}, exitUsage, "CREDITD_ADDR"},
		{"missing configuration", nil, []string{"migrate"}, exitUsage, "DATABASE_URL is required"},
		{"runtime failure", db, []string{"migrate"}, exitFailure, "connection refused"},
		{"reconcile window out of range", db, []string{"reconcile", "--since", "0s"}, exitUsage, "--since 0s must be positive"},
		{"reconcile window not a duration", db, []string{"reconcile", "--since", "yesterday"}, exitUsage, "--since"},
		{"reconcile without a database", db, []string{"reconcile"}, exitFailure, "connection refused"},
		{"help", nil, []string{"--help"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("creditd %s: exit %d, want %d; stderr (want %q):\n%s", strings.Join(tc.args, " "), r.code, tc.code, tc.stderr, r.stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	// No configuration needed: --version answers before it is read.
	r := run(t, nil, "--version")
	if r.code != 0 || r.stdout != testVersion+"\n" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, testVersion)
	}
}

// TestUnknownVariableWarning: a misspelt setting is named, with the nearest
// real one, instead of being silently ignored.
func TestUnknownVariableWarning(t *testing.T) {
	r := run(t, map[string]string{"DATABASE_URL": unreachableDB(t), "CREDITD_DB_CONNECT_TIMEOUT": "0", "CREDITD_ADR": ":9000"}, "migrate")
	if !strings.Contains(r.stderr, `"msg":"CREDITD_ADR is not a creditd setting; did you mean CREDITD_ADDR?"`) ||
		!strings.Contains(r.stderr, `"level":"WARN"`) {
		t.Errorf("no warning about CREDITD_ADR:\n%s", r.stderr)
	}
	// When the configuration is refused, the hint comes with the refusal.
	r = run(t, map[string]string{"CREDITD_DATABASE_UR": "postgres://x@y/z"}, "migrate")
	if r.code != exitUsage || !strings.Contains(r.stderr, "creditd: note: CREDITD_DATABASE_UR is not a creditd setting") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
