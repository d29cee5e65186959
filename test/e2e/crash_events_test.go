//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestEveryChangeIsToldOnceAcrossACrash: the creditd binary takes grants
// from eight clients while it delivers their transaction.created events to
// a slow receiver, and is killed (SIGKILL) in the middle: some changes
// committed with their events undelivered, some deliveries in flight, some
// requests lost. Started again on the same database, it delivers the rest.
// Every committed transaction is then told by exactly one event id (a
// delivery cut by the crash may arrive twice, with the same webhook-id),
// no event tells of a change that did not commit, each account's events
// first arrive in commit order, and the ledger verifies.
func TestEveryChangeIsToldOnceAcrossACrash(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "creditd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/creditd").CombinedOutput(); err != nil {
		t.Fatalf("build creditd: %v\n%s", err, out)
	}
	// The in-process service only makes the database and a key: it delivers nothing.
	s := start(t, map[string]string{"CREDITD_EVENTS_POLL_INTERVAL": "0", "CREDITD_SWEEP_INTERVAL": "0"})
	addr := freeAddr(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + s.dsn, "CREDITD_ADDR=" + addr, "CREDITD_DB_MAX_CONNS=16",
		"CREDITD_EVENTS_ALLOW_PRIVATE_URLS=true", "CREDITD_EVENTS_POLL_INTERVAL=20ms", "CREDITD_EVENTS_DELIVERY_TIMEOUT=1s",
		"CREDITD_EVENTS_BACKOFF_BASE=1s", "CREDITD_EVENTS_BACKOFF_CAP=1s", "CREDITD_LOG_LEVEL=warn"}
	var logs bytes.Buffer
	var logsMu sync.Mutex
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve")
		cmd.Env = env
		w := writerFunc(func(p []byte) (int, error) { logsMu.Lock(); defer logsMu.Unlock(); return logs.Write(p) })
		cmd.Stdout, cmd.Stderr = w, w
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		waitReady(t, "http://"+addr)
		return cmd
	}
	proc := run()
	s.base = "http://" + addr

	type arrival struct{ id, tx, account, balance string }
	var (
		mu       sync.Mutex
		secret   string
		arrivals []arrival
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(5 * time.Millisecond) // slow enough that deliveries are in flight when creditd dies
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			t.Errorf("delivery does not verify: %v", err)
		}
		var msg struct {
			ID   string `json:"id"`
			Data struct {
				TransactionID string `json:"transactionId"`
				AccountID     string `json:"accountId"`
				BalanceAfter  string `json:"balanceAfter"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &msg); err != nil || msg.ID != r.Header.Get("webhook-id") {
			t.Errorf("body %s: %v", body, err)
		}
		arrivals = append(arrivals, arrival{id: msg.ID, tx: msg.Data.TransactionID, account: msg.Data.AccountID, balance: msg.Data.BalanceAfter})
		w.WriteHeader(http.StatusOK)
	}))
	defer recv.Close()
	mu.Lock()
	secret = s.do(http.MethodPost, "/v1/webhook-endpoints", `{"url":"`+recv.URL+`","events":["transaction.created"]}`).
		expect(t, http.StatusCreated).JSON["secret"].(string)
	mu.Unlock()

	// Eight clients grant 1 credit at a time until creditd dies under them.
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/v1/accounts/user-%d/grants", addr, c%4),
					strings.NewReader(`{"amount":"1","source":"bonus"}`))
				req.Header.Set("Authorization", "Bearer "+s.key)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("crash-%d-%d", c, i))
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = resp.Body.Close()
			}
		})
	}
	// Kill once some events are delivered and more are waiting.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(arrivals)
		mu.Unlock()
		if n >= 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events arrived before the crash", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	close(stop)
	wg.Wait()
	var committed int
	if err := s.db.NewRaw("SELECT count(*) FROM transactions").Scan(context.Background(), &committed); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := len(arrivals)
	mu.Unlock()
	t.Logf("killed with %d transactions committed and %d deliveries received; %d requests sent, %d cut off", committed, before, sent.Load(), failed.Load())
	if before >= committed {
		t.Fatalf("every event was delivered before the crash: the crash proved nothing")
	}

	run()
	var txs []string
	if err := s.db.NewRaw("SELECT id::text FROM transactions").Scan(context.Background(), &txs); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		ids := map[string]bool{}
		for _, a := range arrivals {
			ids[a.id] = true
		}
		mu.Unlock()
		if len(ids) >= len(txs) {
			break
		}
		if time.Now().After(deadline) {
			logsMu.Lock()
			t.Fatalf("%d of %d events arrived after the restart\n%s", len(ids), len(txs), logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // nothing more should come but repeats

	mu.Lock()
	defer mu.Unlock()
	eventOf, txOf := map[string]string{}, map[string]string{}
	repeats := 0
	last := map[string]int{}
	for _, a := range arrivals {
		if tx, seen := txOf[a.id]; seen {
			if tx != a.tx {
				t.Errorf("event %s told of %s, then of %s", a.id, tx, a.tx)
			}
			repeats++
			continue
		}
		txOf[a.id] = a.tx
		if other, ok := eventOf[a.tx]; ok {
			t.Errorf("transaction %s was told by two events, %s and %s", a.tx, other, a.id)
		}
		eventOf[a.tx] = a.id
		var b int
		fmt.Sscan(a.balance, &b)
		if b != last[a.account]+1 {
			t.Errorf("account %s: balance %s first arrived after %d: out of commit order", a.account, a.balance, last[a.account])
		}
		last[a.account] = b
	}
	for _, tx := range txs {
		if _, ok := eventOf[tx]; !ok {
			t.Errorf("transaction %s was never told", tx)
		}
	}
	if len(eventOf) != len(txs) {
		t.Errorf("%d transactions told, %d committed: an event told of a change that did not commit", len(eventOf), len(txs))
	}
	t.Logf("%d transactions, each told once; %d deliveries repeated after the crash", len(txs), repeats)
	s.requireSound()
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls /readyz until the service answers 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("creditd at %s never became ready: %v", base, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
