//go:build integration

package postgres_test

import (
	"bufio"
	"bytes"
	"encoding/json"
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
// developer would: creditd, the PortOne sandbox and the demo shop listen on
// 127.0.0.1 only, a purchase through the shop and the sandbox's payment
// window is granted by the sandbox's webhook alone (so the two share the
// webhook secret), Ctrl-C stops everything, PostgreSQL included, and the
// second run finds the first one's key, catalog, order and payment.
func TestMakeRun(t *testing.T) {
	image := requireImage(t)
	id := os.Getpid()
	name, volume := fmt.Sprintf("creditd-pgtest-run-%d", id), fmt.Sprintf("creditd-pgtest-run-%d-data", id)
	ports := map[string]int{"creditd": freePort(t), "sandbox": freePort(t), "shop": freePort(t)}
	keyFile := filepath.Join(t.TempDir(), "demo-api-key")
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", volume).Run() }) // after the container
	removeOnCleanup(t, name)

	env := []string{"POSTGRES_IMAGE=" + image, "CREDITD_PG_NAME=" + name, "CREDITD_PG_VOLUME=" + volume,
		fmt.Sprintf("CREDITD_DEV_PG_PORT=%d", freePort(t)), "DEMO_KEY_FILE=" + keyFile, "CREDITD_RUN_DIR=" + t.TempDir(),
		fmt.Sprintf("CREDITD_ADDR=127.0.0.1:%d", ports["creditd"]), fmt.Sprintf("SANDBOX_ADDR=127.0.0.1:%d", ports["sandbox"]),
		fmt.Sprintf("DEMO_SHOP_ADDR=127.0.0.1:%d", ports["shop"])}
	for _, kv := range os.Environ() {
		// make run's own choices are under test: no database, address or secret from outside.
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "CREDITD_") && !strings.HasPrefix(kv, "SANDBOX_") &&
			!strings.HasPrefix(kv, "DEMO_") && !strings.HasPrefix(kv, "PORTONE_") {
			env = append(env, kv)
		}
	}
	makeArgs := []string{"-s", "-C", filepath.Join("..", "..")}
	api := fmt.Sprintf("http://127.0.0.1:%d", ports["creditd"])
	shopURL := fmt.Sprintf("http://127.0.0.1:%d", ports["shop"])
	sandboxURL := fmt.Sprintf("http://127.0.0.1:%d", ports["sandbox"])

	first := startMakeRun(t, env, makeArgs)
	key := first.banner(t, "demo API key")
	if got := first.banner(t, "creditd API"); got != api {
		t.Errorf("banner says the API is at %q, want %q", got, api)
	}
	if !strings.Contains(first.output(), "Open "+shopURL+" ") {
		t.Errorf("the banner does not say to open the shop at %s:\n%s", shopURL, first.output())
	}
	for service, port := range ports {
		if addrs := listeners(t, port); len(addrs) != 1 || addrs[0] != "0100007F" {
			t.Errorf("%s listens on %v (hex, as in /proc/net/tcp*), want 127.0.0.1 (0100007F) only", service, addrs)
		}
	}
	creditd := client{t: t, base: api, header: http.Header{"Authorization": {"Bearer " + key}}}
	if packs := creditd.get("/v1/products?active=true")["items"].([]any); len(packs) != 3 {
		t.Fatalf("the demo catalog has %d packs, want 3", len(packs))
	}

	// A purchase as the shop's page makes it: the order from the shop, then
	// the payment window's card payment at the sandbox. Nobody calls complete:
	// the sandbox's signed webhook alone must reach creditd and grant.
	shop := client{t: t, base: shopURL}
	order := shop.post("/api/orders", `{"productId":"starter"}`)
	paymentID := order["paymentId"].(string)
	sandbox := client{t: t, base: sandboxURL}
	request := map[string]any{"payMethod": "CARD"} // PortOne.requestPayment's argument, as the page makes it
	for _, field := range []string{"storeId", "channelKey", "paymentId", "orderName", "totalAmount", "currency", "customData"} {
		request[field] = order[field]
	}
	body, _ := json.Marshal(request)
	checkout := sandbox.post("/checkout", string(body))
	if result := sandbox.post("/checkout/"+checkout["checkoutId"].(string)+"/outcome", `{"outcome":"card"}`); result["code"] != nil {
		t.Fatalf("paying by card: %v", result)
	}
	deadline := time.Now().Add(30 * time.Second)
	for creditd.get("/v1/orders/" + paymentID)["status"] != "PAID" {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not make the order PAID: %v\n%s", creditd.get("/v1/orders/"+paymentID), first.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if balance := creditd.get("/v1/accounts/demo-alice")["balance"]; balance != "100" {
		t.Errorf("demo-alice's balance %v, want 100", balance)
	}

	first.interrupt(t)
	for service, port := range ports {
		if addrs := listeners(t, port); len(addrs) != 0 {
			t.Errorf("after Ctrl-C %s still listens on %v", service, addrs)
		}
	}
	if state := containerState(t, name); state != "exited" {
		t.Errorf("after Ctrl-C the dev PostgreSQL is %q, want exited (Ctrl-C stops everything)", state)
	}
	if err := exec.Command("docker", "volume", "inspect", volume).Run(); err != nil {
		t.Errorf("Ctrl-C removed the data volume %s: %v", volume, err)
	}

	second := startMakeRun(t, env, makeArgs)
	if again := second.banner(t, "demo API key"); again != key {
		t.Errorf("second run's key %q, want the first run's %q reused", again, key)
	}
	if got := creditd.get("/v1/orders/" + paymentID)["status"]; got != "PAID" {
		t.Errorf("after a restart the order is %v, want PAID", got)
	}
	if got := sandbox.get("/sandbox/payments")["payments"].([]any); len(got) != 1 {
		t.Errorf("after a restart the sandbox has %d payments, want the first run's 1", len(got))
	}
	second.interrupt(t)

	stop := exec.Command("make", append(makeArgs, "stop")...)
	stop.Env = env
	out, err := stop.CombinedOutput()
	if err != nil || !strings.Contains(string(out), name+" is not running") {
		t.Fatalf("make stop after Ctrl-C: %v\n%s", err, out)
	}
}

// client calls one of make run's services and decodes its JSON answers.
type client struct {
	t      *testing.T
	base   string
	header http.Header
}

func (c client) get(path string) map[string]any { return c.do(http.MethodGet, path, "") }

func (c client) post(path, body string) map[string]any { return c.do(http.MethodPost, path, body) }

func (c client) do(method, path, body string) map[string]any {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = c.header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		c.t.Fatalf("%s %s: %d %v %v", method, path, resp.StatusCode, out, err)
	}
	return out
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
// would, and waits for its banner, printed once every service answers.
func startMakeRun(t *testing.T, env, makeArgs []string) *makeRun {
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
		if strings.Contains(r.output(), "Ctrl-C stops everything") {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run printed no banner:\n%s", r.output())
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
