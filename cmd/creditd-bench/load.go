package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// ---------------------------------------------------------------------------
// Latency recording

// recorder keeps every latency of one kind; sorting them is cheap at the
// sample counts a 2-core machine produces (a few hundred thousand per step).
type recorder struct {
	d      []time.Duration
	sorted bool
}

func (r *recorder) add(d time.Duration) { r.d = append(r.d, d); r.sorted = false }

func (r *recorder) merge(o *recorder) {
	if o != nil {
		r.d = append(r.d, o.d...)
		r.sorted = false
	}
}

func (r *recorder) count() int { return len(r.d) }

// percentile is the nearest-rank percentile p (0 < p <= 100); 0 when empty.
func (r *recorder) percentile(p float64) time.Duration {
	if len(r.d) == 0 {
		return 0
	}
	if !r.sorted {
		slices.Sort(r.d)
		r.sorted = true
	}
	rank := int(math.Ceil(p / 100 * float64(len(r.d))))
	rank = min(max(rank, 1), len(r.d))
	return r.d[rank-1]
}

// latencies is a recorder's summary.
type latencies struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

func (r *recorder) summary() latencies {
	return latencies{N: r.count(), P50: r.percentile(50), P95: r.percentile(95), P99: r.percentile(99), Max: r.percentile(100)}
}

// ---------------------------------------------------------------------------
// HTTP client

// apiClient talks to creditd over keep-alive connections. It is
// fasthttp's client rather than net/http's: the load generator shares the
// machine's two cores with creditd and PostgreSQL, and fasthttp spends a
// fraction of the CPU per request (no allocation per request, no goroutine
// per connection), leaving more of the machine to what is measured.
type apiClient struct {
	base, auth string
	hc         *fasthttp.HostClient
}

func newAPIClient(base, key string, maxConns int) *apiClient {
	base = strings.TrimRight(base, "/")
	return &apiClient{base: base, auth: "Bearer " + key, hc: &fasthttp.HostClient{
		Addr:                          strings.TrimPrefix(base, "http://"),
		MaxConns:                      maxConns,
		MaxConnWaitTimeout:            requestTimeout, // wait for a connection rather than fail at once
		MaxIdleConnDuration:           90 * time.Second,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true, // paths are escaped already; keep %2F as sent
	}}
}

// response is one request's outcome: a status and body, or a transport error.
type response struct {
	Status   int
	Body     []byte
	Err      error
	Replayed bool // Idempotent-Replayed: true, which a benchmark never expects
}

// requestTimeout bounds one request, as net/http's Client.Timeout did.
const requestTimeout = 30 * time.Second

func (c *apiClient) do(ctx context.Context, method, path, idemKey string, body []byte) response {
	if idemKey != "" {
		return c.doWith(ctx, method, path, body, "Authorization", c.auth, "Idempotency-Key", idemKey)
	}
	return c.doWith(ctx, method, path, body, "Authorization", c.auth)
}

// doWith sends a request with the given headers (name, value, name,
// value...) and no others but Content-Type for a body.
func (c *apiClient) doWith(ctx context.Context, method, path string, body []byte, headers ...string) response {
	if err := ctx.Err(); err != nil {
		return response{Err: err}
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(c.base + path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	deadline := time.Now().Add(requestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.hc.DoDeadline(req, resp, deadline); err != nil {
		return response{Err: err}
	}
	return response{Status: resp.StatusCode(), Body: append([]byte(nil), resp.Body()...),
		Replayed: string(resp.Header.Peek("Idempotent-Replayed")) == "true"}
}

// errorKey names an unexpected outcome for the error counts: the problem type's
// slug with its status, the bare status when the body is not a problem, or the
// transport failure.
func errorKey(r response) string {
	if r.Err != nil {
		return "transport: " + transportReason(r.Err)
	}
	var p struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(r.Body, &p) == nil && p.Type != "" {
		return strconv.Itoa(r.Status) + " " + p.Type[strings.LastIndexByte(p.Type, '/')+1:]
	}
	return "http " + strconv.Itoa(r.Status)
}

func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, fasthttp.ErrConnectionClosed):
		return "EOF"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}

// ---------------------------------------------------------------------------
// Workers and runners

// worker is one load-generating client; nothing in it is shared, so the hot
// path takes no locks. The runner merges workers when the step ends.
type worker struct {
	id     int
	run    string // run id, makes idempotency keys unique across runs
	seq    uint64
	rng    *rand.Rand
	zipf   *rand.Zipf
	client *apiClient
	start  time.Time // when the step started
	sched  time.Time // open loop: when the current iteration was due (zero once used)

	lat      map[string]*recorder // per request kind
	all      recorder             // every successful request
	iter     recorder             // every successful iteration
	errs     map[string]int
	counters map[string]int64
	events   map[string]time.Duration // first time (since start) something happened
}

func newWorker(id int, run string, seed uint64, c *apiClient, zipfN int) *worker {
	w := &worker{id: id, run: run, client: c, rng: rand.New(rand.NewPCG(seed, uint64(id)+1)),
		lat: map[string]*recorder{}, errs: map[string]int{}, counters: map[string]int64{}, events: map[string]time.Duration{}}
	if zipfN > 0 {
		w.zipf = newZipf(w.rng, zipfN)
	}
	return w
}

// zipfS is the skew of wallet choice: with 10,000 wallets the hottest one gets
// about 15% of the traffic and the top 100 about 60%.
const zipfS = 1.1

// newZipf picks indexes in [0, n) with P(k) ∝ (1+k)^-zipfS.
func newZipf(r *rand.Rand, n int) *rand.Zipf {
	return rand.NewZipf(r, zipfS, 1, uint64(n-1))
}

func (w *worker) pick() int { return int(w.zipf.Uint64()) }

func (w *worker) key() string {
	w.seq++
	return w.run + "-" + strconv.Itoa(w.id) + "-" + strconv.FormatUint(w.seq, 10)
}

// call sends one request. A response with status want counts as a success and
// its latency is recorded under kind; anything else is counted by errorKey.
// In the open loop the first request of an iteration is timed from when it was
// due, not from when it was sent, so a slow server cannot hide queueing
// (coordinated omission).
func (w *worker) call(ctx context.Context, kind, method, path string, body []byte, want int) (response, bool) {
	t0 := w.begin()
	idem := ""
	if method == http.MethodPost {
		idem = w.key()
	}
	return w.record(kind, t0, w.client.do(ctx, method, path, idem, body), want)
}

// begin is when a request starts, for its latency: now, or in the open
// loop for the first request of an iteration, when it was due.
func (w *worker) begin() time.Time {
	t0 := time.Now()
	if !w.sched.IsZero() {
		t0, w.sched = w.sched, time.Time{}
	}
	return t0
}

// record counts a response that began at t0: status want is a success,
// its latency recorded under kind; anything else is counted by errorKey.
func (w *worker) record(kind string, t0 time.Time, r response, want int) (response, bool) {
	d := time.Since(t0)
	if r.Replayed {
		// Every key is new, so a replay means keys collided or creditd mixed them up.
		w.errs["unexpected idempotent replay"]++
		return r, false
	}
	if r.Err == nil && r.Status == want {
		rec := w.lat[kind]
		if rec == nil {
			rec = &recorder{}
			w.lat[kind] = rec
		}
		rec.add(d)
		w.all.add(d)
		return r, true
	}
	w.errs[errorKey(r)]++
	return r, false
}

// event notes the first time something happened in the step.
func (w *worker) event(name string) {
	if _, ok := w.events[name]; !ok {
		w.events[name] = time.Since(w.start)
	}
}

// iterFunc is one iteration of a scenario (one or more requests); it reports
// whether every request in it succeeded.
type iterFunc func(ctx context.Context, w *worker) bool

// loadResult is what the workers of one step did, merged.
type loadResult struct {
	Elapsed    time.Duration
	OK, Failed int64 // iterations
	Unsent     int64 // open loop: arrivals never sent (backlog at the hard stop)
	Lat        map[string]*recorder
	All, Iter  recorder
	Errors     map[string]int
	Counters   map[string]int64
	Events     map[string]time.Duration // earliest over workers
}

func (lr *loadResult) rate() float64 {
	if lr.Elapsed <= 0 {
		return 0
	}
	return float64(lr.OK) / lr.Elapsed.Seconds()
}

func mergeWorkers(ws []*worker, elapsed time.Duration) *loadResult {
	lr := &loadResult{Elapsed: elapsed, Lat: map[string]*recorder{}, Errors: map[string]int{},
		Counters: map[string]int64{}, Events: map[string]time.Duration{}}
	for _, w := range ws {
		for k, r := range w.lat {
			if lr.Lat[k] == nil {
				lr.Lat[k] = &recorder{}
			}
			lr.Lat[k].merge(r)
		}
		lr.All.merge(&w.all)
		lr.Iter.merge(&w.iter)
		for k, n := range w.errs {
			lr.Errors[k] += n
		}
		for k, n := range w.counters {
			lr.Counters[k] += n
		}
		for k, t := range w.events {
			if old, ok := lr.Events[k]; !ok || t < old {
				lr.Events[k] = t
			}
		}
	}
	lr.OK, lr.Failed = lr.Counters["iter.ok"], lr.Counters["iter.failed"]
	return lr
}

// loadSpec says who runs a step: how to make each worker and what it does.
type loadSpec struct {
	Run    string
	Seed   uint64
	Client *apiClient
	ZipfN  int // wallets to choose from; 0 for none
	Iter   iterFunc
}

// stepSeq numbers the steps of a run, so idempotency keys
// (run-step-worker-seq) never repeat from one step to the next.
var stepSeq atomic.Int64

func (s loadSpec) workers(n int) []*worker {
	prefix := s.Run + "-" + strconv.FormatInt(stepSeq.Add(1), 10)
	ws := make([]*worker, n)
	for i := range ws {
		ws[i] = newWorker(i, prefix, s.Seed, s.Client, s.ZipfN)
	}
	return ws
}

func (w *worker) iterate(ctx context.Context, fn iterFunc) {
	t0 := time.Now()
	if !w.sched.IsZero() {
		t0 = w.sched
	}
	if fn(ctx, w) {
		w.iter.add(time.Since(t0))
		w.counters["iter.ok"]++
	} else {
		w.counters["iter.failed"]++
	}
}

// runClosed runs a closed loop: clients workers, each sending its next
// iteration as soon as the previous one is answered, until dur has passed.
// Requests in flight at the deadline are waited for (the HTTP client's timeout
// bounds them), so every outcome is known.
func runClosed(ctx context.Context, clients int, dur time.Duration, spec loadSpec) *loadResult {
	ws := spec.workers(clients)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for _, w := range ws {
		w.start = start
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				w.iterate(ctx, spec.Iter)
			}
		}()
	}
	wg.Wait()
	return mergeWorkers(ws, time.Since(start))
}

// runOpen runs an open loop: iterations are due at a fixed rate whatever the
// server does, taken by a pool of workers large enough not to be the limit.
// Latency counts from when an iteration was due. Arrivals still queued at
// 2×dur are not sent and counted as Unsent, so the step is bounded in time.
func runOpen(ctx context.Context, rate float64, dur time.Duration, workers int, spec loadSpec) *loadResult {
	n := int(rate * dur.Seconds())
	if n < 1 {
		n = 1
	}
	interval := time.Duration(float64(time.Second) / rate)
	due := make(chan time.Time, n)
	ws := spec.workers(workers)
	start := time.Now()
	hardStop := start.Add(2 * dur)
	var unsent int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, w := range ws {
		w.start = start
		wg.Add(1)
		go func() {
			defer wg.Done()
			skipped := int64(0)
			for at := range due {
				if ctx.Err() != nil || time.Now().After(hardStop) {
					skipped++
					continue
				}
				w.sched = at
				w.iterate(ctx, spec.Iter)
			}
			mu.Lock()
			unsent += skipped
			mu.Unlock()
		}()
	}
	// The generator wakes up at most every millisecond and releases every
	// arrival due by then, each stamped with its own due time.
	for i := 0; i < n && ctx.Err() == nil; {
		now := time.Now()
		for ; i < n; i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.After(now) {
				break
			}
			due <- at
		}
		if i < n {
			time.Sleep(min(time.Until(start.Add(time.Duration(i)*interval)), time.Millisecond))
		}
	}
	close(due)
	wg.Wait()
	lr := mergeWorkers(ws, time.Since(start))
	lr.Unsent = unsent
	return lr
}

// forEach runs fn for i in [0, n) on conc goroutines; used for seeding and
// snapshots, not for measurement.
func forEach(ctx context.Context, n, conc int, fn func(i int) error) error {
	var (
		mu   sync.Mutex
		next int
		errs []error
		wg   sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				stop := len(errs) > 0
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("item %d: %w", i, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}
