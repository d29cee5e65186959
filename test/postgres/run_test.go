//go:build integration

package postgres_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMakeRun runs `make run` twice on a dev PostgreSQL of its own, as a
// developer would: creditd listens on 127.0.0.1 only and the banner says so,
// the second run reuses the first run's demo key, Ctrl-C leaves PostgreSQL
// running, and `make stop` stops it and keeps its data volume.
func TestMakeRun(t *testing.T) {
	image := requireImage(t)
	id := os.Getpid()
	name, volume := fmt.Sprintf("creditd-pgtest-run-%d", id), fmt.Sprintf("creditd-pgtest-run-%d-data", id)
	port := freePort(t)
	keyFile := filepath.Join(t.TempDir(), "demo-api-key")
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", volume).Run() }) // after the container
	removeOnCleanup(t, name)

	env := []string{"POSTGRES_IMAGE=" + image, "CREDITD_PG_NAME=" + name, "CREDITD_PG_VOLUME=" + volume,
		fmt.Sprintf("CREDITD_DEV_PG_PORT=%d", freePort(t))}
	for _, kv := range os.Environ() {
		// make run's own choices are under test: no database or address from outside.
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "CREDITD_") {
			env = append(env, kv)
		}
	}
	makeArgs := []string{"-s", "-C", filepath.Join("..", ".."), fmt.Sprintf("DEV_PORT=%d", port), "DEMO_KEY_FILE=" + keyFile}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)

	first := startMakeRun(t, env, makeArgs, url)
	key := first.banner(t, "demo API key")
	if api := first.banner(t, "creditd API"); api != url {
		t.Errorf("banner says the API is at %q, want %q", api, url)
	}
	if addrs := listeners(t, port); len(addrs) != 1 || addrs[0] != "0100007F" {
		t.Errorf("creditd listens on %v (hex, as in /proc/net/tcp*), want 127.0.0.1 (0100007F) only", addrs)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/v1/accounts/nobody", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the demo key: %v %v; want 404 (authenticated, no such account)", resp, err)
	}
	first.interrupt(t)
	if state := containerState(t, name); state != "running" {
		t.Errorf("after Ctrl-C the dev PostgreSQL is %q; the README says it keeps running", state)
	}

	second := startMakeRun(t, env, makeArgs, url)
	if again := second.banner(t, "demo API key"); again != key {
		t.Errorf("second run's key %q, want the first run's %q reused", again, key)
	}
	if strings.Contains(second.output(), "created API key") {
		t.Errorf("second run minted a key:\n%s", second.output())
	}
	second.interrupt(t)

	stop := exec.Command("make", append(makeArgs, "stop")...)
	stop.Env = env
	out, err := stop.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stopped "+name) {
		t.Fatalf("make stop: %v\n%s", err, out)
	}
	if state := containerState(t, name); state != "exited" {
		t.Errorf("after make stop the dev PostgreSQL is %q, want exited", state)
	}
	if err := exec.Command("docker", "volume", "inspect", volume).Run(); err != nil {
		t.Errorf("make stop removed the data volume %s: %v", volume, err)
	}
}

type makeRun struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (r *makeRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.Write(p)
}

func (r *makeRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// startMakeRun starts make run in a process group of its own, as a terminal
// would, and waits until creditd answers at url.
func startMakeRun(t *testing.T, env, makeArgs []string, url string) *makeRun {
	t.Helper()
	r := &makeRun{done: make(chan error, 1)}
	r.cmd = exec.Command("make", append(makeArgs, "run")...)
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = r, r
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL) })
	deadline := time.Now().Add(3 * time.Minute) // the first build may compile everything
	for {
		select {
		case err := <-r.done:
			t.Fatalf("make run exited early: %v\n%s", err, r.output())
		case <-time.After(200 * time.Millisecond):
		}
		if resp, err := http.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("creditd did not answer at %s:\n%s", url, r.output())
		}
	}
}

// interrupt is Ctrl-C in the terminal: SIGINT to the whole process group.
func (r *makeRun) interrupt(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run did not stop on SIGINT:\n%s", r.output())
	}
}

// banner is the value of one line of make run's banner.
func (r *makeRun) banner(t *testing.T, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + `  +(\S+)`).FindStringSubmatch(r.output())
	if m == nil {
		t.Fatalf("no %q in make run's banner:\n%s", label, r.output())
	}
	return m[1]
}

func containerState(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("docker", "container", "inspect", "-f", "{{.State.Status}}", name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// listeners are the local addresses (hex, as the kernel writes them) of the
// TCP sockets listening on port.
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var addrs []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			// sl local_address rem_address st ...; st 0A is LISTEN.
			fields := strings.Fields(s.Text())
			if len(fields) > 3 && fields[3] == "0A" && strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", port)) {
				addrs = append(addrs, strings.TrimSuffix(fields[1], fmt.Sprintf(":%04X", port)))
			}
		}
		f.Close()
	}
	return addrs
}
