//go:build integration

package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creditd/creditd/test/pgtest"
)

// TestAPIKeyCommands drives the creditd binary's key commands on a real
// database: create prints the secret once, list shows keys newest first
// without it, check accepts a working key from standard input, and a revoked
// or unknown one fails with exit 1.
func TestAPIKeyCommands(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "creditd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/creditd").CombinedOutput(); err != nil {
		t.Fatalf("build creditd: %v\n%s", err, out)
	}
	dsn := pgtest.NewDatabase(t)
	creditd := func(stdin string, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dsn, "CREDITD_DB_CONNECT_TIMEOUT=0"}
		cmd.Stdin = strings.NewReader(stdin)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String(), code
	}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, errOut, code := creditd(stdin, args...)
		if code != 0 {
			t.Fatalf("creditd %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	if out := mustRun("", "migrate"); out != "database is up to date\n" { // cloned from a migrated template
		t.Fatalf("migrate: %q", out)
	}
	first := strings.TrimSpace(mustRun("", "apikey", "create", "--tenant", "acme"))
	second := strings.TrimSpace(mustRun("", "apikey", "create", "--tenant", "globex", "--scopes", "credits:read"))
	if !strings.HasPrefix(first, "cdk_") || !strings.HasPrefix(second, "cdk_") {
		t.Fatalf("create printed %q and %q, want the secrets", first, second)
	}

	out := mustRun(first+"\n", "apikey", "check")
	m := regexp.MustCompile(`^API key (\S+) of tenant acme works, with scopes credits:read,credits:write,catalog:write,orders:read,orders:write,events:read,events:write\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("check: %q", out)
	}
	firstID := m[1]

	list := mustRun("", "apikey", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") ||
		!regexp.MustCompile(`^\S+\s+globex\s+credits:read\s+\d{4}-\d\d-\d\dT\S+Z\s+-$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^`+firstID+`\s+acme\s+credits:read,credits:write,catalog:write,orders:read,orders:write,events:read,events:write\s+\S+Z\s+-$`).MatchString(lines[2]) {
		t.Fatalf("list, newest first:\n%s", list)
	}
	if strings.Contains(list, first) || strings.Contains(list, second) || strings.Contains(list, "cdk_") {
		t.Fatalf("list shows a secret:\n%s", list)
	}
	if acme := mustRun("", "apikey", "list", "--tenant", "acme"); strings.Count(strings.TrimSpace(acme), "\n") != 1 ||
		!strings.Contains(acme, firstID) {
		t.Fatalf("list --tenant acme:\n%s", acme)
	}

	mustRun("", "apikey", "revoke", firstID)
	if !regexp.MustCompile(firstID + `\s+acme\s+\S+\s+\S+Z\s+\d{4}-\S+Z\n`).MatchString(mustRun("", "apikey", "list", "--tenant", "acme")) {
		t.Fatalf("a revoked key is listed with its revocation time")
	}
	for name, secret := range map[string]string{"revoked": first, "unknown": "cdk_" + strings.Repeat("x", 52), "empty": ""} {
		if _, errOut, code := creditd(secret, "apikey", "check"); code != 1 || !strings.Contains(errOut, "unknown or revoked") {
			t.Errorf("check of a %s key: exit %d, stderr %q; want 1 and a reason", name, code, errOut)
		}
	}
}
