//go:build integration

// Package browser buys credits the way a person does: real headless Chromium
// (driven by chromedp) on the demo shop's page, paying in the PortOne
// sandbox's payment window, with creditd on its own PostgreSQL database
// behind them. Each test saves screenshots in its artifact directory
// (`make test` keeps them under .bin/test-artifacts).
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
	"github.com/creditd/creditd/cmd/demo-shop/shop"
	"github.com/creditd/creditd/cmd/portone-sandbox/sandbox"
	"github.com/creditd/creditd/domain"
	"github.com/creditd/creditd/test/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, postgres.MigrateURL)) }

// The PortOne settings the sandbox and creditd share, as a real store's would be.
const (
	apiSecret  = "browser-test-api-secret"
	storeID    = "store-browser-test"
	channelKey = "channel-key-browser-test"
	// webhookSecret's key is the bytes of "creditd-browser-test-key".
	webhookSecret = "whsec_Y3JlZGl0ZC1icm93c2VyLXRlc3Qta2V5"
)

// stack is the product as make run starts it: creditd, the sandbox wired to
// its webhook endpoints (V2's and V1's), and the demo shop, all on 127.0.0.1 (one site, so the
// payment window, an iframe, shares the page's process and DOM tree).
type stack struct {
	t       *testing.T
	creditd string // base URL
	key     string // the shop's creditd API key
	db      *bun.DB
	sandbox *sandbox.Server
	shopURL string
	browser context.Context
}

func startStack(t *testing.T) *stack {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Config{APISecret: apiSecret, StoreID: storeID, ChannelKey: channelKey,
		WebhookSecrets: []string{webhookSecret}, WebhookRetryScale: 0.0005})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	s := &stack{t: t, sandbox: sb}

	cfg, err := app.LoadConfig(map[string]string{
		"DATABASE_URL": pgtest.NewDatabase(t), "CREDITD_ADDR": "127.0.0.1:0",
		"PORTONE_API_URL": sb.URL, "PORTONE_API_SECRET": apiSecret, "PORTONE_STORE_ID": storeID,
		"PORTONE_CHANNEL_KEY": channelKey, "PORTONE_WEBHOOK_SECRETS": webhookSecret,
		"PORTONE_V1_API_URL": sb.V1URL(), "PORTONE_V1_IMP_KEY": sb.V1IMPKey, "PORTONE_V1_IMP_SECRET": sb.V1IMPSecret,
		"PORTONE_V1_IMP_CODE": sb.V1IMPCode, "PORTONE_V1_PG": "html5_inicis",
		"CREDITD_WEBHOOK_POLL_INTERVAL": "50ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	var srv *httpapi.Server
	var apiKeys *application.APIKeys
	fxApp := fxtest.New(t, app.Options(cfg, slog.New(slog.DiscardHandler)), fx.Populate(&srv, &s.db, &apiKeys))
	fxApp.RequireStart()
	t.Cleanup(fxApp.RequireStop)
	s.creditd = "http://" + srv.Addr()
	tenant, _ := domain.ParseTenantName("demo")
	k, err := apiKeys.Create(context.Background(), tenant, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.key = k.Secret
	if err := sb.SetWebhookURL(s.creditd + "/webhooks/portone"); err != nil {
		t.Fatal(err)
	}
	sb.SetV1WebhookURL(s.creditd + "/webhooks/portone/v1")

	s.addPack(`{"id":"starter","name":"Starter","price":"9900","currency":"KRW","credits":"100"}`)
	s.addPack(`{"id":"creator","name":"Creator","price":"45000","currency":"KRW","credits":"500","bonusCredits":"50"}`)

	demo, err := shop.New(shop.Config{CreditdURL: s.creditd, APIKey: shop.APIKey(s.key), PortOneSDKURL: sb.URL + "/v2/browser-sdk.js",
		PortOneV1SDKURL: sb.URL + "/v1/iamport.js"})
	if err != nil {
		t.Fatal(err)
	}
	shopServer := httptest.NewServer(demo.Handler()) // on 127.0.0.1, as the sandbox
	t.Cleanup(shopServer.Close)
	s.shopURL = shopServer.URL

	s.browser = newBrowser(t)
	return s
}

// newBrowser starts headless Chromium for one test. Without one the test
// skips, except under CI=true, where a missing browser fails the run.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CREDITD_BROWSER")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium: make browser installs Debian's chromium (CREDITD_BROWSER names another)")
		}
		t.Skip("no Chromium (make browser installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The pages' own errors and console output, for when a test fails. (The
	// first call also starts the browser, with no deadline: one would stop it.)
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			t.Logf("browser: uncaught %s at %s:%d", desc, d.URL, d.LineNumber+1)
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value))
			}
			t.Logf("browser console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// run runs browser actions with a deadline, saving a screenshot when they fail.
func (s *stack) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.browser, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.screenshot("failed-" + what)
		s.t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves the whole page as TEST-NAME.png (quality 100 makes a PNG) in the test's artifact directory.
func (s *stack) screenshot(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.browser, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return
	}
	// Named after the test too: go test names artifact directories at random.
	path := filepath.Join(s.t.ArtifactDir(), strings.ReplaceAll(s.t.Name()+"-"+name, " ", "-")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", path)
}

// api calls creditd with the shop's key and decodes the JSON answer.
func (s *stack) api(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	return call(s.t, method, s.creditd+path, body, "Authorization", "Bearer "+s.key, "Idempotency-Key", fmt.Sprintf("browser-%d", time.Now().UnixNano()))
}

// control calls one of the sandbox's test controls.
func (s *stack) control(method, path, body string) (int, map[string]any) {
	s.t.Helper()
	return call(s.t, method, s.sandbox.URL+path, body)
}

func call(t *testing.T, method, url, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (s *stack) addPack(body string) {
	s.t.Helper()
	if status, out := s.api(http.MethodPost, "/v1/products", body); status != http.StatusCreated {
		s.t.Fatalf("adding a pack: %d %v", status, out)
	}
}

// requireSound fails the test when creditd verify finds any drift.
func (s *stack) requireSound() {
	s.t.Helper()
	report, err := application.NewVerifier(postgres.NewAuditor(s.db)).Verify(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, d := range report.Drifts {
		s.t.Error("drift:", d)
	}
}

// eventually retries check until it passes or 20 s have gone by.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var errNotYet = errors.New("not yet")
