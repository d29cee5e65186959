// Command creditd-bench measures creditd against PostgreSQL's own limit on
// the same machine (issue #3). One run:
//
//  1. starts a throw-away PostgreSQL container (fsync on) on 127.0.0.1 and
//     initialises pgbench's tables in a database of their own,
//  2. migrates, creates an API key and starts .bin/creditd on that database
//     (for scenario 5 selling credits through a fake PortOne this process
//     serves, with orders created and paid before the rounds),
//  3. runs -rounds rounds (see roundPlan): pgbench TPC-B-like and a
//     single-hot-row script, creditd's closed-loop sweeps over the client
//     counts, then open-loop steps at half this round's peak rate, sampling
//     creditd's CPU and RSS; after each step of scenario 5 (webhooks) it
//     waits for the inbox to drain,
//  4. runs `creditd verify` and each scenario's invariant,
//  5. prints Markdown tables (medians over the rounds, and every round's raw
//     figures) and writes latest.md, latest.svg and the README section, then
//     stops creditd and the container.
//
// It exits 1 when verify finds drift or an invariant breaks (an overdraft is
// a failure), and 0 when only speed targets are missed: those are reported.
// All traffic goes to 127.0.0.1; every loop is bounded in time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

type options struct {
	duration       time.Duration
	rounds         int
	clients        []int
	scenarios      []int
	url, key       string
	pid            int
	skipPgbench    bool
	out            string
	readme         string
	bin            string
	work           string
	pgImage        string
	pgPort         int
	pgScript       string
	pgName         string
	pgArgs         string
	databaseURL    string
	wallets        int
	openLoop       bool
	openWorkers    int
	pgbenchScale   int
	pgbenchClients int
	seed           uint64
	waitIdle       time.Duration
	webhookOrders  int
	events         bool
	command        string
}

// productionSettings are what a production deployment of PostgreSQL sets
// for a write-heavy load, and the benchmark's server runs with them (pgbench
// too, so ratios compare like with like). At these write rates (about 2 KB of
// WAL per spend) stock settings checkpoint every minute, forced by WAL
// volume (max_wal_size 1 GB); each checkpoint's start (full-page images
// double the WAL for a while) and end (fsync) stalls commits for tens of
// milliseconds. With these a checkpoint comes every 15 minutes, its page
// images are compressed, and the buffer cache holds the working set. A
// server that has run a while reuses its old WAL segments; a fresh one, as
// every benchmark's is, creates new ones, and zero-filling 16 MB every two
// seconds or so stalled a commit each time: wal_init_zero=off creates them
// without (their space is then allocated as WAL is written).
const productionSettings = "-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_compression=lz4 -c wal_init_zero=off"

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("creditd-bench", flag.ContinueOnError)
	clients := fs.String("clients", "8,32,64", "closed-loop client counts, comma-separated")
	scenarios := fs.String("scenarios", "1,2,3,4,5", "scenarios to run: 1 spend (Zipf wallets), 2 hot wallet, 3 hold+capture+release, 4 GET balance, 5 PortOne webhooks")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "duration of each step (and of each pgbench run)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of pgbench baselines and creditd steps; figures are medians over them, ratios pair each round's two sides")
	fs.StringVar(&o.url, "url", "", "an already running creditd (e.g. http://127.0.0.1:8080); then it is not started, and needs -key")
	fs.StringVar(&o.key, "key", "", "API key for -url (tenant of your choice, both scopes)")
	fs.IntVar(&o.pid, "pid", 0, "with -url: creditd's pid, to sample its CPU and RSS")
	fs.BoolVar(&o.skipPgbench, "skip-pgbench", false, "do not run the pgbench baselines")
	fs.StringVar(&o.out, "out", "test/bench/results", "directory for latest.md and latest.svg")
	fs.StringVar(&o.readme, "readme", "", "README to update between <!-- bench:start --> and <!-- bench:end --> (empty: none)")
	fs.StringVar(&o.bin, "creditd", ".bin/creditd", "creditd binary")
	fs.StringVar(&o.work, "work", ".bin/bench", "scratch directory (creditd's log)")
	fs.StringVar(&o.pgImage, "pg-image", "creditd/postgres:15-bookworm", "PostgreSQL image for the benchmark server and pgbench")
	fs.IntVar(&o.pgPort, "pg-port", 0, "127.0.0.1 port of the benchmark PostgreSQL container (0: a free one)")
	fs.StringVar(&o.pgScript, "pg-script", "test/postgres/server.sh", "the script that starts PostgreSQL, as for make run")
	fs.StringVar(&o.pgName, "pg-container", "creditd-bench-postgres", "name of the benchmark PostgreSQL container (with -database-url: of the container to sample CPU from, if any)")
	fs.StringVar(&o.pgArgs, "pg-args", productionSettings, "PostgreSQL server arguments, for pgbench and creditd alike (\"\": stock settings)")
	fs.StringVar(&o.databaseURL, "database-url", "", "use this PostgreSQL instead of starting a container (creditd, verify and pgbench)")
	fs.IntVar(&o.wallets, "wallets", 10000, "funded wallets for scenarios 1, 3 and 4")
	fs.IntVar(&o.webhookOrders, "webhook-orders", 20000, "paid orders scenario 5's webhooks are about, in turn (one account each)")
	fs.BoolVar(&o.events, "events", false, "register a webhook endpoint receiving every event type for the bench tenant, served by this process, so every change writes, fans out and delivers its events")
	fs.BoolVar(&o.openLoop, "open-loop", true, "at the end of each round, run scenarios 1 and 3 in open loop at half the round's best rate")
	fs.IntVar(&o.openWorkers, "open-workers", 256, "workers taking open-loop arrivals (enough not to be the limit)")
	fs.IntVar(&o.pgbenchScale, "pgbench-scale", 10, "pgbench -i scale factor")
	fs.IntVar(&o.pgbenchClients, "pgbench-clients", 8, "pgbench -c (threads: 2)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock)")
	fs.DurationVar(&o.waitIdle, "wait-idle", 0, "first wait up to this long for the machine to be idle (CPU < 15% busy); the run goes ahead either way")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.clients, err = parseInts(*clients, 1, 1024); err != nil {
		return o, fmt.Errorf("-clients: %w", err)
	}
	if o.scenarios, err = parseInts(*scenarios, 1, 5); err != nil {
		return o, fmt.Errorf("-scenarios: %w", err)
	}
	switch {
	case o.duration < time.Second || o.duration > 10*time.Minute:
		return o, fmt.Errorf("-duration must be between 1s and 10m")
	case o.rounds < 1 || o.rounds > 50:
		return o, fmt.Errorf("-rounds must be between 1 and 50")
	case o.url != "" && o.key == "":
		return o, fmt.Errorf("-url needs -key")
	case o.url != "" && !isLoopbackURL(o.url):
		return o, fmt.Errorf("-url must point at 127.0.0.1 or localhost")
	case o.wallets < 2 || o.wallets > 1_000_000:
		return o, fmt.Errorf("-wallets must be between 2 and 1000000")
	case o.webhookOrders < 1 || o.webhookOrders > 1_000_000:
		return o, fmt.Errorf("-webhook-orders must be between 1 and 1000000")
	case o.openWorkers < 1 || o.openWorkers > 4096:
		return o, fmt.Errorf("-open-workers must be between 1 and 4096")
	}
	o.seed = *seed
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	o.command = "creditd-bench " + strings.Join(args, " ")
	return o, nil
}

func isLoopbackURL(u string) bool {
	for _, p := range []string{"http://127.", "http://localhost:", "http://localhost/", "http://[::1]"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

func parseInts(s string, lo, hi int) ([]int, error) {
	var xs []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%q is not a number from %d to %d", f, lo, hi)
		}
		if !slices.Contains(xs, n) {
			xs = append(xs, n)
		}
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return xs, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "creditd-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, o)
	if ctx.Err() != nil {
		logf("interrupted")
		code = 130
	}
	os.Exit(code)
}

// run is the whole benchmark; cleanups run in reverse order (creditd, then
// PostgreSQL) whether it ends normally, fails or is interrupted.
func run(ctx context.Context, o options) int {
	start := time.Now()
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	fail := func(err error) int {
		if ctx.Err() == nil {
			logf("error: %v", err)
		}
		return 1
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return fail(err)
	}

	idle := backgroundBusy(2 * time.Second)
	for waitUntil := time.Now().Add(o.waitIdle); idle > 0.15 && time.Now().Before(waitUntil) && ctx.Err() == nil; {
		logf("host CPU %.0f%% busy; waiting for other work to finish (-wait-idle, until %s)", idle*100, waitUntil.Format("15:04:05"))
		time.Sleep(3 * time.Second)
		idle = backgroundBusy(2 * time.Second)
	}
	if ctx.Err() != nil {
		return 130
	}
	logf("host CPU busy before the run: %.0f%%", idle*100)
	if idle > 0.10 {
		logf("warning: other work is running on this machine; every figure will be lower than on an idle one")
	}

	// The database: given, or a fresh container (unless creditd is external
	// and no database was given: then there is nothing to start).
	dsn := o.databaseURL
	var cpu []cpuSource // PostgreSQL's container, when known
	if dsn == "" && o.url == "" {
		logf("starting PostgreSQL container %s (%s)", o.pgName, o.pgImage)
		var port int
		var err error
		dsn, port, err = startPostgres(ctx, o.pgScript, o.pgImage, o.pgName, o.pgPort, strings.Fields(o.pgArgs))
		cleanups = append(cleanups, func() {
			logf("stopping PostgreSQL container %s", o.pgName)
			if err := stopPostgres(o.pgName); err != nil {
				logf("%v", err)
			}
		})
		if err != nil {
			return fail(err)
		}
		logf("PostgreSQL ready on 127.0.0.1:%d", port)
	}
	// PostgreSQL's CPU: the container started above, or the one -pg-container
	// names beside -database-url.
	if out, err := exec.Command("docker", "inspect", "-f", "{{.Id}}", o.pgName).Output(); err == nil && dsn != "" {
		if src, ok := containerCPU("postgres", strings.TrimSpace(string(out))); ok {
			cpu = append(cpu, src)
		}
	}
	var pgCfg *pgx.ConnConfig
	pgVersion := "unknown"
	if dsn != "" {
		var err error
		if pgCfg, err = pgx.ParseConfig(dsn); err != nil {
			return fail(fmt.Errorf("database URL: %w", err))
		}
		if !isLoopbackHost(pgCfg.Host) {
			return fail(fmt.Errorf("the database must be on 127.0.0.1 or localhost, not %q", pgCfg.Host))
		}
		pgVersion = serverVersion(ctx, pgCfg)
	}
	settings := o.pgArgs
	if o.databaseURL != "" || o.url != "" {
		settings = "its own" // a server this run did not start
	}
	rep := &report{Date: time.Now(), Machine: machineFacts(pgVersion, settings), Command: o.command, Duration: o.duration,
		Rounds: o.rounds, Scenarios: o.scenarios, OpenLoop: o.openLoop, Clients: o.clients, Wallets: o.wallets,
		Scale: o.pgbenchScale, Idle: idle, Revision: sourceRevision()}

	// 1. pgbench's tables, once, before creditd runs so nothing competes with
	// the initialisation; the baselines themselves run in every round.
	var pb *pgbenchRunner
	switch {
	case o.skipPgbench:
		rep.Notes = append(rep.Notes, "pgbench baselines skipped (-skip-pgbench): no ratios.")
	case pgCfg == nil:
		rep.Notes = append(rep.Notes, "pgbench baselines skipped: no database known (give -database-url with -url).")
	default:
		runner := &pgbenchRunner{cpu: cpu, image: o.pgImage, cfg: pgCfg, log: logf}
		pb = runner
		cleanups = append(cleanups, func() { // runner, not pb: pb is nil when -i failed
			_ = execQuiet("docker", "rm", "-f", pgbenchContainer)
			if err := runner.drop(context.WithoutCancel(ctx)); err != nil {
				logf("dropping %s: %v", pgbenchDB, err)
			}
		})
		if err := pb.prepare(ctx, o.pgbenchScale); err != nil {
			if ctx.Err() != nil {
				return 130
			}
			logf("pgbench -i failed: %v", err)
			rep.Notes = append(rep.Notes, "pgbench baselines failed to initialise: no ratios. "+strings.ReplaceAll(strings.TrimSpace(tail(err.Error(), 1)), "|", "/"))
			pb = nil
		}
	}

	// 2. creditd: ours, or the one at -url.
	base, key, pid := o.url, o.key, o.pid
	var proc *creditdProcess
	var portone *fakePortOne // scenario 5's PortOne, served by this process
	alive := func() bool { return true }
	if o.url == "" {
		if _, err := os.Stat(o.bin); err != nil {
			return fail(fmt.Errorf("%s not found: run make build", o.bin))
		}
		if out, err := creditdCommand(ctx, o.bin, dsn, "migrate"); err != nil {
			return fail(err)
		} else {
			logf("creditd migrate: %s", strings.TrimSpace(out))
		}
		out, err := creditdCommand(ctx, o.bin, dsn, "apikey", "create", "--tenant", "bench")
		if err != nil {
			return fail(err)
		}
		key = strings.TrimSpace(out)
		addr, err := freeAddr()
		if err != nil {
			return fail(err)
		}
		var extraEnv []string
		if slices.Contains(o.scenarios, scWebhook) {
			if portone, err = startFakePortOne(benchPortOneSecret, benchStoreID); err != nil {
				return fail(fmt.Errorf("fake PortOne: %w", err))
			}
			cleanups = append(cleanups, portone.close)
			extraEnv = sellingEnv(portone.URL)
			logf("fake PortOne at %s", portone.URL)
		}
		if o.events {
			extraEnv = append(extraEnv, "CREDITD_EVENTS_ALLOW_PRIVATE_URLS=true")
		}
		logPath := filepath.Join(o.work, "creditd.log")
		proc, err = startCreditd(o.bin, dsn, addr, logPath, extraEnv)
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, func() {
			if proc.alive() {
				logf("stopping creditd (pid %d)", proc.pid())
				if err := proc.stop(20 * time.Second); err != nil {
					logf("%v", err)
				}
			}
		})
		base, pid = "http://"+addr, proc.pid()
		alive = proc.alive
		if err := proc.waitReady(ctx, base, 30*time.Second); err != nil {
			return fail(err)
		}
		logf("creditd ready at %s (pid %d, log %s)", base, pid, logPath)
	}
	var recv *eventReceiver
	if o.events {
		var err error
		if recv, err = startEventReceiver(ctx, base, key); err != nil {
			return fail(fmt.Errorf("event receiver: %w", err))
		}
		cleanups = append(cleanups, recv.close)
		logf("webhook endpoint registered, receiver at %s", recv.url)
	}
	if pb != nil {
		pb.pid = pid // creditd idles during the baselines now: its CPU gets a column, not "other"
	}

	maxConns := slices.Max(o.clients)
	if o.openLoop {
		maxConns = max(maxConns, o.openWorkers)
	}
	b := &bench{opts: o, client: newAPIClient(base, key, maxConns+16), pid: pid, cpu: cpu, alive: alive, logf: logf,
		settle: 300 * time.Millisecond, run: "bench-" + time.Now().UTC().Format("20060102T150405")}
	if pid == 0 {
		rep.Notes = append(rep.Notes, "creditd's pid is unknown (-url without -pid): no CPU or RSS figures.")
	}

	// 3. The rounds.
	b.portone, b.pg = portone, pgCfg
	baselines, err := runRounds(ctx, b, pb)
	rep.Baselines, rep.Steps, rep.Checks = baselines, b.steps, b.checks
	rep.Notes = append(rep.Notes, b.notes...)
	if recv != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("Events on (-events): a webhook endpoint of the bench tenant received every event type, "+
			"served by the driver (net/http, answering 204); it had received %d deliveries when the rounds ended.", recv.received.Load()))
	}
	if ctx.Err() != nil {
		return 130
	}
	if err != nil {
		if len(rep.Steps) > 0 {
			fmt.Fprintf(os.Stderr, "steps measured before the failure:\n%s", rep.roundsTable())
		}
		if proc != nil && !proc.alive() {
			err = fmt.Errorf("%w: %w", err, proc.exitError())
		}
		return fail(err)
	}
	if proc != nil && !proc.alive() {
		return fail(proc.exitError())
	}

	// 4. The ledger must still add up.
	if dsn != "" {
		t0 := time.Now()
		out, err := creditdCommand(ctx, o.bin, dsn, "verify")
		line := strings.TrimSpace(tail(out, 1))
		if err != nil {
			line = strings.TrimSpace(tail(err.Error(), 5))
		}
		rep.Checks = append(rep.Checks, check{Name: "creditd verify: 0 drifts", OK: err == nil,
			Detail: fmt.Sprintf("%s (%.1f s)", strings.ReplaceAll(line, "\n", " "), time.Since(t0).Seconds())})
		logf("creditd verify: %s", line)
	} else {
		rep.Notes = append(rep.Notes, "creditd verify skipped: no database known (give -database-url with -url).")
	}

	// 5. Report.
	if proc != nil {
		logf("stopping creditd (pid %d)", proc.pid())
		if err := proc.stop(20 * time.Second); err != nil {
			logf("%v", err)
		}
		rep.Logs = logSummary(proc.logPath)
	}
	rep.Elapsed = time.Since(start)
	if err := writeReport(rep, o); err != nil {
		return fail(err)
	}
	if rep.failed() {
		for _, c := range rep.Checks {
			if !c.OK {
				logf("INVARIANT FAILED: %s: %s", c.Name, c.Detail)
			}
		}
		return 1
	}
	logf("done in %s", time.Since(start).Round(time.Second))
	return 0
}

// runRounds seeds the wallets and runs the rounds, each in the order
// roundPlan gives; pb is nil without baselines. It returns the baselines
// measured, and leaves steps, checks and notes in b.
func runRounds(ctx context.Context, b *bench, pb *pgbenchRunner) ([]*pgbenchResult, error) {
	has := func(sc int) bool { return slices.Contains(b.opts.scenarios, sc) }
	if has(scSpend) || has(scHold) || has(scRead) {
		if err := b.seed(ctx); err != nil {
			return nil, err
		}
	}
	if has(scWebhook) {
		switch {
		case b.portone == nil:
			b.notes = append(b.notes, "Scenario 5 (webhook intake) skipped: it needs the creditd this driver starts, selling credits through the driver's fake PortOne (not -url).")
		case b.pg == nil:
			b.notes = append(b.notes, "Scenario 5 (webhook intake) skipped: no database known to watch the inbox drain.")
		default:
			if err := b.setupShop(ctx, b.portone, b.pg); err != nil {
				return nil, err
			}
		}
	}
	phases := map[phaseKind]map[int]func(context.Context) error{
		phaseClosed: {scSpend: b.closedSpend, scHot: b.closedHot, scHold: b.closedHold, scRead: b.closedRead, scWebhook: b.closedWebhook},
		phaseOpen:   {scSpend: b.openSpend, scHold: b.openHold},
	}
	var baselines []*pgbenchResult
	for r := 1; r <= b.opts.rounds; r++ {
		b.round, b.best = r, map[int]float64{}
		if err := b.topUp(ctx); err != nil {
			return baselines, err
		}
		plan := roundPlan(r, b.opts.scenarios, pb != nil, b.opts.openLoop)
		names := make([]string, len(plan))
		for i, p := range plan {
			names[i] = p.String()
		}
		b.logf("round %d of %d: %s", r, b.opts.rounds, strings.Join(names, ", "))
		for _, p := range plan {
			if p.Kind == phasePgbench {
				tpcb, hot := pb.round(ctx, r, b.opts.duration, b.opts.pgbenchClients, p.HotFirst)
				if ctx.Err() != nil {
					return baselines, ctx.Err()
				}
				for _, res := range []pgbenchResult{tpcb, hot} {
					if res.Err != "" {
						b.logf("  r%d %s failed: %s", r, res.Name, firstLine(res.Err))
					} else {
						b.logf("  r%d %s: %.0f TPS, latency avg %.2f ms, CPU cores postgres / creditd / other %s", r, res.Name, res.TPS, res.LatencyAvgMs, fmtCores(res.Usage, baselineCPUColumns))
					}
				}
				baselines = append(baselines, &tpcb, &hot)
				continue
			}
			if p.Kind == phaseClosed {
				b.logf("round %d, scenario %d: %s", r, p.Scenario, scenarioNames[p.Scenario])
			}
			if err := phases[p.Kind][p.Scenario](ctx); err != nil {
				return baselines, fmt.Errorf("round %d, scenario %d: %w", r, p.Scenario, err)
			}
		}
	}
	b.finishChecks()
	if err := b.checkShop(ctx); err != nil {
		return baselines, err
	}
	if b.topped > 0 {
		b.notes = append(b.notes, fmt.Sprintf("%d wallets ran below half their seed and were topped up between rounds.", b.topped))
	}
	return baselines, nil
}

func writeReport(rep *report, o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	mdPath, svgPath := filepath.Join(o.out, "latest.md"), filepath.Join(o.out, "latest.svg")
	chartName := ""
	if err := writeChart(rep, svgPath); err != nil {
		logf("chart: %v", err)
	} else {
		chartName = filepath.Base(svgPath)
	}
	md := rep.markdown(chartName)
	fmt.Println(md)
	if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
		return err
	}
	logf("wrote %s and %s", mdPath, svgPath)
	if o.readme != "" {
		if err := updateReadme(o.readme, rep.readmeSection(relPath(o.readme, svgPath), relPath(o.readme, mdPath))); err != nil {
			return err
		}
		logf("updated %s", o.readme)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return strings.HasPrefix(h, "127.") || h == "localhost" || h == "::1"
}

func execQuiet(name string, args ...string) error {
	return exec.Command(name, args...).Run()
}
