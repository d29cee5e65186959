// Package pgtest gives integration tests a real PostgreSQL: one container per
// test package (Main) and, per test, a fresh database cloned from a migrated
// template (NewDatabase). Cloning a template costs milliseconds, so every test
// gets full isolation and may call t.Parallel().
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, migrations.Apply)) }
//
//	func TestX(t *testing.T) {
//		t.Parallel()
//		dsn := pgtest.NewDatabase(t)
//		...
//	}
//
// Environment:
//   - POSTGRES_IMAGE: image to run (default postgres:16); if it is absent and
//     cannot be pulled, the image built by `make postgres-image`
//     (CREDITD_PG_IMAGE, default creditd/postgres:15-bookworm) is used.
//   - PGTEST_DSN: admin URL of an already running server (superuser or
//     CREATEDB role); no container is started.
//   - CI=true: an unreachable Docker fails the run instead of skipping tests.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

const (
	// DefaultImage is the official image, used whenever Docker has or can pull it.
	DefaultImage = "postgres:16"
	// FallbackImage is built from Debian packages by test/postgres/build-image.sh.
	FallbackImage = "creditd/postgres:15-bookworm"

	pgUser     = "creditd"
	pgPassword = "creditd"

	setupTimeout = 5 * time.Minute
	labelPID     = "org.creditd.pgtest.pid"
	labelHost    = "org.creditd.pgtest.host"
)

var (
	// admin is the one connection to the maintenance database, used for
	// CREATE/DROP DATABASE. A plain pgx.Conn keeps pgxpool (and its extra
	// module) out of the build; the mutex makes it safe for parallel tests.
	admin    *pgx.Conn
	adminMu  sync.Mutex
	baseURL  *url.URL // admin DSN; per-test DSNs differ only in the database name
	template string   // migrated database every test database is cloned from
	skipMsg  string   // set when Docker is unreachable outside CI
	seq      atomic.Int64
)

var errNoDocker = errors.New("docker is not reachable")

// Main starts one PostgreSQL container for the test package, creates a
// template database, applies migrate to it, runs the tests, and terminates
// the container. Use from TestMain: os.Exit(pgtest.Main(m, migrate)).
// migrate may be nil. It must close its connections before returning, but
// stray ones are terminated anyway, since cloning needs an idle template.
func Main(m *testing.M, migrate func(ctx context.Context, dsn string) error) int {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	teardown, err := setup(ctx, migrate)
	cancel()
	if err != nil {
		if errors.Is(err, errNoDocker) && os.Getenv("CI") != "true" {
			// Tests that need a database show up as skipped; the rest still run.
			skipMsg = fmt.Sprintf("pgtest: skipping, %v (set CI=true to make this fatal)", err)
			fmt.Fprintln(os.Stderr, skipMsg)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}
	defer teardown()
	return m.Run()
}

// NewDatabase gives the test its own database cloned from the migrated
// template (CREATE DATABASE ... TEMPLATE ...), safe for t.Parallel(), dropped
// in t.Cleanup. Returns its DSN (pgx-compatible URL, sslmode=disable).
func NewDatabase(t testing.TB) string {
	t.Helper()
	if skipMsg != "" {
		t.Skip(skipMsg)
	}
	if admin == nil {
		t.Fatal("pgtest: NewDatabase needs pgtest.Main in the package's TestMain")
	}
	name := fmt.Sprintf("creditd_test_%d_%d", os.Getpid(), seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := adminExec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(template)); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a test may leave its pool open; that must not fail cleanup.
		if err := adminExec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return dsnFor(name)
}

// setup prepares the server and the template; on error it has already undone
// whatever it started.
func setup(ctx context.Context, migrate func(context.Context, string) error) (_ func(), err error) {
	var undo []func()
	undoAll := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		// testcontainers panics on some Docker failures; report them as errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("setup panicked: %v", r)
		}
		if err != nil {
			undoAll()
		}
	}()

	adminDSN := os.Getenv("PGTEST_DSN")
	shared := adminDSN != ""
	template = "creditd_template"
	if shared {
		// A shared server may host several test binaries at once.
		template = fmt.Sprintf("creditd_template_%d", os.Getpid())
	} else {
		dsn, stop, err := startContainer(ctx)
		if err != nil {
			return nil, err
		}
		undo = append(undo, stop)
		adminDSN = dsn
	}

	if baseURL, err = url.Parse(adminDSN); err != nil || !strings.HasPrefix(baseURL.Scheme, "postgres") {
		return nil, fmt.Errorf("admin DSN must be a postgres:// URL, got %q", redact(adminDSN))
	}
	if q := baseURL.Query(); q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
		baseURL.RawQuery = q.Encode()
	}
	if admin, err = pgx.Connect(ctx, baseURL.String()); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(adminDSN), err)
	}
	undo = append(undo, func() { _ = admin.Close(context.Background()) })

	if err = adminExec(ctx, "CREATE DATABASE "+ident(template)); err != nil {
		return nil, fmt.Errorf("create template database: %w", err)
	}
	if shared {
		undo = append(undo, dropTemplate)
	}
	if migrate != nil {
		if err = migrate(ctx, dsnFor(template)); err != nil {
			return nil, fmt.Errorf("migrate template database: %w", err)
		}
	}
	// CREATE DATABASE ... TEMPLATE fails while anyone is connected to the
	// template: forbid new connections, then end any the migration left behind
	// (CREATE DATABASE waits a few seconds for them to go away).
	if err = adminExec(ctx, "ALTER DATABASE "+ident(template)+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
		return nil, fmt.Errorf("seal template database: %w", err)
	}
	if err = adminExec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", template); err != nil {
		return nil, fmt.Errorf("seal template database: %w", err)
	}
	return undoAll, nil
}

// dropTemplate is for a shared PGTEST_DSN server; a container just goes away.
func dropTemplate() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = adminExec(ctx, "ALTER DATABASE "+ident(template)+" WITH IS_TEMPLATE false")
	_ = adminExec(ctx, "DROP DATABASE IF EXISTS "+ident(template)+" WITH (FORCE)")
}

func adminExec(ctx context.Context, sql string, args ...any) error {
	adminMu.Lock()
	defer adminMu.Unlock()
	_, err := admin.Exec(ctx, sql, args...)
	return err
}

// startContainer runs PostgreSQL and returns the admin DSN and a stop function.
func startContainer(ctx context.Context) (string, func(), error) {
	ryuk := decideRyuk(ctx)

	// Everything below goes through testcontainers' own Docker discovery.
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		defer cli.Close()
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", errNoDocker, err)
	}
	pinLocalHost(ctx, cli)
	if !ryuk {
		reapStale(ctx, cli)
	}
	img, err := pickImage(ctx, cli)
	if err != nil {
		return "", nil, err
	}

	host, _ := os.Hostname()
	ctr, err := postgres.Run(ctx, img,
		postgres.WithDatabase(pgUser),
		postgres.WithUsername(pgUser),
		postgres.WithPassword(pgPassword),
		postgres.BasicWaitStrategies(),
		// Only Snapshot/Restore use it (not pgtest); "pgx" is registered by
		// pgx/v5/stdlib wherever a test imports it.
		postgres.WithSQLDriver("pgx"),
		// Durability is pointless for throwaway test data; speed is not.
		testcontainers.WithCmd("postgres",
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=300"),
		// tmpfs avoids the (possibly fuse-) overlay filesystem for data files.
		testcontainers.WithTmpfs(map[string]string{"/var/lib/postgresql/data": "rw"}),
		// Lets a later run remove this container if the process dies without Ryuk.
		testcontainers.WithLabels(map[string]string{labelPID: strconv.Itoa(os.Getpid()), labelHost: host}),
	)
	stop := func() {
		if err := testcontainers.TerminateContainer(ctr); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: terminate container: %v\n", err)
		}
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("start %s: %w", img, err)
	}

	// Ctrl-C or a kill would otherwise leave the container behind (Ryuk may be off).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if sig, ok := <-sigs; ok {
			stop()
			os.Exit(128 + int(sig.(syscall.Signal)))
		}
	}()

	dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		stop()
		return "", nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		stop()
		return "", nil, err
	}
	u.Path = "/postgres" // maintenance database: never cloned, never dropped
	fmt.Fprintf(os.Stderr, "pgtest: PostgreSQL from %s at %s\n", img, u.Host)
	return u.String(), func() { signal.Stop(sigs); close(sigs); stop() }, nil
}

// decideRyuk disables Ryuk (the reaper container) when its image is not in
// the local Docker (pulling it may be impossible, as on CI). It must run before
// anything in testcontainers reads its configuration, which it caches.
func decideRyuk(ctx context.Context) bool {
	if v, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); ok {
		return v != "true"
	}
	//lint:ignore SA1019 still the exact name this testcontainers version runs.
	img := testcontainers.ReaperDefaultImage
	if p := os.Getenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"); p != "" {
		img = strings.TrimSuffix(p, "/") + "/" + img
	}
	cli, err := client.New(client.FromEnv)
	if err == nil {
		defer cli.Close()
		_, err = cli.ImageInspect(ctx, img)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %s not available, disabling Ryuk; containers are terminated explicitly\n", img)
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		return false
	}
	return true
}

// pinLocalHost makes testcontainers reach published ports on localhost when
// the Docker daemon runs beside us inside a container (as on CI machines).
// Seeing /.dockerenv, testcontainers would otherwise assume a daemon on the
// container's host and dial the default gateway, which has no such ports.
func pinLocalHost(ctx context.Context, cli *testcontainers.DockerClient) {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); set || !strings.HasPrefix(cli.DaemonHost(), "unix://") {
		return
	}
	host, _ := os.Hostname()
	if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil && host != "" && info.Info.Name == host {
		os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
	}
}

// reapStale removes containers left by earlier pgtest processes on this host
// that died (panic, timeout) before terminating them; Ryuk's job when it is off.
func reapStale(ctx context.Context, cli *testcontainers.DockerClient) {
	host, _ := os.Hostname()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", labelHost+"="+host),
	})
	if err != nil {
		return
	}
	for _, c := range list.Items {
		pid, err := strconv.Atoi(c.Labels[labelPID])
		if err != nil || processAlive(pid) {
			continue
		}
		fmt.Fprintf(os.Stderr, "pgtest: removing stale container %.12s of dead process %d\n", c.ID, pid)
		_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// pickImage prefers POSTGRES_IMAGE (default postgres:16), present or pullable,
// and falls back to the locally built Debian image.
func pickImage(ctx context.Context, cli *testcontainers.DockerClient) (string, error) {
	want := os.Getenv("POSTGRES_IMAGE")
	if want == "" {
		want = DefaultImage
	}
	if _, err := cli.ImageInspect(ctx, want); err == nil {
		return want, nil
	}
	pullErr := pull(ctx, cli, want)
	if pullErr == nil {
		return want, nil
	}
	fallback := os.Getenv("CREDITD_PG_IMAGE")
	if fallback == "" {
		fallback = FallbackImage
	}
	if _, err := cli.ImageInspect(ctx, fallback); err == nil {
		fmt.Fprintf(os.Stderr, "pgtest: %s unavailable (%v); using %s\n", want, pullErr, fallback)
		return fallback, nil
	}
	return "", fmt.Errorf("no PostgreSQL image: %s is not present and cannot be pulled (%v), "+
		"and %s is not present either; run `make postgres-image`", want, pullErr, fallback)
}

func pull(ctx context.Context, cli *testcontainers.DockerClient, img string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	resp, err := cli.ImagePull(ctx, img, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer resp.Close()
	return resp.Wait(ctx)
}

func dsnFor(db string) string {
	u := *baseURL
	u.Path = "/" + db
	return u.String()
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// redact hides the password of a URL DSN in error messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
