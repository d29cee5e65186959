package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgbenchResult is one pgbench run, as pgbench reported it.
type pgbenchResult struct {
	Name          string
	Clients       int
	Threads       int
	Duration      time.Duration
	TPS           float64 // without initial connection time
	LatencyAvgMs  float64
	Transactions  int64
	Failed        int64
	Err           string // why it did not run, if it did not
	ScalingFactor int
	Usage         usage     // CPU during the run (pgbench's own container counts as "other")
	Round         int       // from 1
	Start         time.Time // when the run started
}

// parsePgbench reads the summary pgbench prints at the end of a run. It
// accepts PostgreSQL 14+ ("without initial connection time") and older
// ("excluding connections establishing") wording.
func parsePgbench(out string) (pgbenchResult, error) {
	var r pgbenchResult
	tpsFound := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			key, val, ok = strings.Cut(line, ":")
		}
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		first := val
		if i := strings.IndexByte(val, ' '); i >= 0 {
			first = val[:i]
		}
		switch key {
		case "tps":
			// PostgreSQL ≤ 13 prints two tps lines; keep the one without connection time.
			if strings.Contains(val, "without initial connection time") || strings.Contains(val, "excluding connections") || !tpsFound {
				v, err := strconv.ParseFloat(first, 64)
				if err != nil {
					return r, fmt.Errorf("pgbench tps %q: %w", val, err)
				}
				r.TPS, tpsFound = v, true
			}
		case "latency average":
			r.LatencyAvgMs, _ = strconv.ParseFloat(first, 64)
		case "number of transactions actually processed":
			n, _, _ := strings.Cut(first, "/")
			r.Transactions, _ = strconv.ParseInt(n, 10, 64)
		case "number of failed transactions":
			r.Failed, _ = strconv.ParseInt(first, 10, 64)
		case "number of clients":
			r.Clients, _ = strconv.Atoi(first)
		case "number of threads":
			r.Threads, _ = strconv.Atoi(first)
		case "scaling factor":
			r.ScalingFactor, _ = strconv.Atoi(first)
		case "duration":
			s, _ := strconv.Atoi(first)
			r.Duration = time.Duration(s) * time.Second
		}
	}
	if !tpsFound {
		return r, fmt.Errorf("no tps line in pgbench output")
	}
	return r, nil
}

// pgbenchRunner runs pgbench in a second container of the PostgreSQL image on
// the host network, so it reaches the server through the same published
// 127.0.0.1 port creditd uses.
type pgbenchRunner struct {
	cpu   []cpuSource // PostgreSQL's container
	pid   int         // creditd's, once it runs: its idle CPU is not counted as "other"
	image string
	cfg   *pgx.ConnConfig // the server; pgbench uses database pgbenchDB on it
	log   func(format string, args ...any)
}

const (
	pgbenchDB        = "creditd_pgbench"
	pgbenchContainer = "creditd-bench-pgbench"
	hotRowScript     = "UPDATE hot SET v = v + 1 WHERE id = 1;"
)

func (p *pgbenchRunner) run(ctx context.Context, shell string) (string, error) {
	args := []string{"run", "--rm", "--name", pgbenchContainer, "--network", "host",
		"-e", "PGPASSWORD=" + p.cfg.Password, "-e", "PGHOST=" + p.cfg.Host, "-e", "PGPORT=" + strconv.Itoa(int(p.cfg.Port)),
		"-e", "PGUSER=" + p.cfg.User, "-e", "PGDATABASE=" + pgbenchDB, "-e", "PGSSLMODE=disable",
		p.image, "sh", "-c", shell}
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // docker run forwards it
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pgbench: %w\n%s", err, tail(string(out), 20))
	}
	return string(out), nil
}

// prepare creates the baselines' database once for the whole run: pgbench's
// TPC-B tables at the given scale, and the one-row table of the hot-row
// script. Rounds reuse them: pgbench vacuums its tables and empties its
// history before each TPC-B run, and round vacuums the hot table before each
// hot-row run, so every round starts from the same state without the minute
// that reinitialising would cost.
func (p *pgbenchRunner) prepare(ctx context.Context, scale int) error {
	if err := p.admin(ctx, "", "DROP DATABASE IF EXISTS "+pgbenchDB, "CREATE DATABASE "+pgbenchDB); err != nil {
		return err
	}
	p.log("pgbench -i -s %d", scale)
	if _, err := p.run(ctx, fmt.Sprintf("pgbench -i -q -s %d", scale)); err != nil {
		return err
	}
	return p.admin(ctx, pgbenchDB, "CREATE TABLE hot (id int PRIMARY KEY, v bigint NOT NULL)", "INSERT INTO hot VALUES (1, 0)")
}

// drop removes the baselines' database.
func (p *pgbenchRunner) drop(ctx context.Context) error {
	return p.admin(ctx, "", "DROP DATABASE IF EXISTS "+pgbenchDB)
}

// round runs TPC-B-like and the single-hot-row script (hotFirst: in that
// order), each for dur with clients connections on 2 threads. A failed run
// has Err set; the other still runs.
func (p *pgbenchRunner) round(ctx context.Context, round int, dur time.Duration, clients int, hotFirst bool) (tpcb, hot pgbenchResult) {
	secs := max(1, int(dur.Round(time.Second)/time.Second))
	threads := min(2, clients)
	flags := fmt.Sprintf("-c %d -j %d -M prepared -T %d", clients, threads, secs)
	runTPCB := func() pgbenchResult {
		p.log("pgbench %s (TPC-B-like)", flags)
		return p.measure(ctx, "pgbench TPC-B-like", round, clients, threads, "pgbench "+flags)
	}
	runHot := func() pgbenchResult {
		// Dead versions of the row left by the previous round go first, as
		// pgbench's own vacuum does for TPC-B's tables.
		if err := p.admin(ctx, pgbenchDB, "VACUUM hot"); err != nil {
			return pgbenchResult{Name: "pgbench single hot row", Round: round, Clients: clients, Threads: threads, Err: err.Error()}
		}
		p.log("pgbench %s -f hot.sql (%s)", flags, hotRowScript)
		return p.measure(ctx, "pgbench single hot row", round, clients, threads,
			fmt.Sprintf("printf '%%s\\n' '%s' >/tmp/hot.sql && exec pgbench -n -f /tmp/hot.sql %s", hotRowScript, flags))
	}
	if hotFirst {
		hot = runHot()
		tpcb = runTPCB()
	} else {
		tpcb = runTPCB()
		hot = runHot()
	}
	return tpcb, hot
}

// measure runs one pgbench command with CPU sampling.
func (p *pgbenchRunner) measure(ctx context.Context, name string, round, clients, threads int, shell string) pgbenchResult {
	start := time.Now()
	s := startSampler(p.pid, p.cpu)
	out, err := p.run(ctx, shell)
	u := s.finish()
	r := pgbenchResult{Clients: clients, Threads: threads}
	if err == nil {
		r, err = parsePgbench(out)
	}
	if err != nil {
		r.Err = err.Error()
	}
	r.Name, r.Round, r.Start, r.Usage = name, round, start, u
	return r
}

// admin runs statements in database db ("" for the server's main database).
func (p *pgbenchRunner) admin(ctx context.Context, db string, stmts ...string) error {
	cfg := p.cfg.Copy()
	if db != "" {
		cfg.Database = db
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// serverVersion is PostgreSQL's version string, e.g. "15.10 (Debian 15.10-0+deb12u1)".
func serverVersion(ctx context.Context, cfg *pgx.ConnConfig) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "unknown"
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
