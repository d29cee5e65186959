//go:build integration

// Package postgres_test checks the development PostgreSQL that make run and
// make bench start with server.sh.
package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestServerRequiresThePassword: the server that server.sh starts refuses a
// wrong or missing password over TCP, on 127.0.0.1 too, where initdb's
// default trusts everyone (and on the host network everyone is any local
// user).
func TestServerRequiresThePassword(t *testing.T) {
	image := requireImage(t)
	name, port := fmt.Sprintf("creditd-pgtest-hba-%d", os.Getpid()), freePort(t)
	dsn := startServer(t, image, name, port)
	requirePassword(t, dsn)
}

// TestServerRepairsATrustingVolume: a container made before TCP needed a
// password (its pg_hba.conf trusts 127.0.0.1) is fixed when server.sh finds it.
func TestServerRepairsATrustingVolume(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the old container this recreates ran on the host network, which only Linux has")
	}
	image := requireImage(t)
	name, port := fmt.Sprintf("creditd-pgtest-oldhba-%d", os.Getpid()), freePort(t)
	removeOnCleanup(t, name)
	// As server.sh used to create it.
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--stop-signal", "SIGINT", "--network", "host",
		"-e", "POSTGRES_USER=creditd", "-e", "POSTGRES_PASSWORD=creditd", "-e", "POSTGRES_DB=creditd",
		"-e", "POSTGRES_INITDB_ARGS=--auth-host=trust", image,
		"postgres", "-c", "listen_addresses=127.0.0.1", "-c", fmt.Sprintf("port=%d", port)).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	dsn := startServer(t, image, name, port)
	requirePassword(t, dsn)
}

func requirePassword(t *testing.T, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("the right password: %v", err)
	}
	conn.Close(ctx)

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	for name, user := range map[string]*url.Userinfo{
		"wrong password": url.UserPassword("creditd", "not-the-password"),
		"no password":    url.User("creditd"),
	} {
		u.User = user
		conn, err := pgx.Connect(ctx, u.String())
		if err == nil {
			conn.Close(ctx)
			t.Errorf("%s: connected to %s", name, u.Redacted())
			continue
		}
		var pgErr *pgconn.PgError
		if name == "wrong password" && (!errors.As(err, &pgErr) || pgErr.Code != "28P01") {
			t.Errorf("%s: %v; want invalid_password (28P01)", name, err)
		}
	}
}

// startServer runs server.sh as make run does, without a data volume, and
// returns the DSN it prints.
func startServer(t *testing.T, image, name string, port int) string {
	t.Helper()
	removeOnCleanup(t, name)
	cmd := exec.CommandContext(t.Context(), "bash", "server.sh", image)
	cmd.Env = append(os.Environ(), "CREDITD_PG_NAME="+name, fmt.Sprintf("CREDITD_DEV_PG_PORT=%d", port), "CREDITD_PG_VOLUME=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("server.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func removeOnCleanup(t *testing.T, name string) {
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rm", "-f", "-v", name).CombinedOutput(); err != nil {
			t.Logf("docker rm %s: %v\n%s", name, err, out)
		}
	})
}

// requireImage is the image make postgres-image chose; without Docker or it,
// the test skips on a laptop and fails under CI=true.
func requireImage(t *testing.T) string {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if out, err := exec.Command("docker", "version", "-f", "{{.Server.Version}}").CombinedOutput(); err != nil {
		fail("docker is not reachable: %v\n%s", err, out)
	}
	image := os.Getenv("POSTGRES_IMAGE")
	if image == "" {
		b, _ := os.ReadFile(filepath.Join("..", "..", ".bin", "postgres-image"))
		image = strings.TrimSpace(string(b))
	}
	if image == "" {
		fail("no PostgreSQL image: set POSTGRES_IMAGE or run make postgres-image")
	}
	return image
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
