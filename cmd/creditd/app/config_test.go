package app_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditd/creditd/cmd/creditd/app"
)

func loadWith(vars map[string]string) (app.Config, error) {
	env := map[string]string{"DATABASE_URL": "postgres://u:p@localhost:5432/db"}
	for k, v := range vars {
		env[k] = v
	}
	return app.LoadConfig(env)
}

// TestListenAddressesAreChecked: an address that cannot be listened on fails
// at start-up, before anything else runs, for every address setting.
func TestListenAddressesAreChecked(t *testing.T) {
	valid := []string{":8080", "127.0.0.1:8080", "[::1]:8080", "localhost:0", ":65535", "0.0.0.0:1", "api.internal:80"}
	invalid := []string{":99999", ":65536", "[::1]:70000", ":-1", ":http", ":8o80", "8080", "localhost", ":", "127.0.0.1:",
		"bad host:80", "-bad-:80", "a..b:80"}
	for _, name := range []string{"CREDITD_ADDR", "CREDITD_PPROF_ADDR"} {
		for _, addr := range valid {
			if _, err := loadWith(map[string]string{name: addr}); err != nil {
				t.Errorf("%s=%q refused: %v", name, addr, err)
			}
		}
		for _, addr := range invalid {
			_, err := loadWith(map[string]string{name: addr})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: want an error naming %s, got %v", name, addr, name, err)
			}
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	cfg, err := loadWith(nil)
	if err != nil || cfg.DBConnectTimeout != 30*time.Second {
		t.Fatalf("default: %v, %v; want 30s", cfg.DBConnectTimeout, err)
	}
	if cfg, err := loadWith(map[string]string{"CREDITD_DB_CONNECT_TIMEOUT": "0"}); err != nil || cfg.DBConnectTimeout != 0 {
		t.Errorf("0 (try once): %v, %v", cfg.DBConnectTimeout, err)
	}
	if _, err := loadWith(map[string]string{"CREDITD_DB_CONNECT_TIMEOUT": "-1s"}); err == nil ||
		!strings.Contains(err.Error(), "CREDITD_DB_CONNECT_TIMEOUT") {
		t.Errorf("negative: want an error naming CREDITD_DB_CONNECT_TIMEOUT, got %v", err)
	}
}

func TestUnknownVariablesAreNamedWithTheNearestSetting(t *testing.T) {
	got := app.UnknownVariables(map[string]string{
		"CREDITD_ADR":           ":8080",
		"CREDITD_DB_MAXCONNS":   "4",
		"creditd_log_level":     "debug",
		"CREDITD_SWEEP_INTERVL": "1s",
		"CREDITD_SOMETHING":     "x", // nothing close
		"CREDITD_ADDR":          ":8080",
		"CREDITD_PG_NAME":       "dev", // read by test/postgres/server.sh, not a typo
		"DATABASE_URL":          "postgres://",
		"HOME":                  "/root",
	})
	want := []app.UnknownVariable{
		{Name: "CREDITD_ADR", Suggestion: "CREDITD_ADDR"},
		{Name: "CREDITD_DB_MAXCONNS", Suggestion: "CREDITD_DB_MAX_CONNS"},
		{Name: "CREDITD_SOMETHING"},
		{Name: "CREDITD_SWEEP_INTERVL", Suggestion: "CREDITD_SWEEP_INTERVAL"},
		{Name: "creditd_log_level", Suggestion: "CREDITD_LOG_LEVEL"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if s := got[0].String(); s != "CREDITD_ADR is not a creditd setting; did you mean CREDITD_ADDR?" {
		t.Errorf("message: %s", s)
	}
}

// TestVariablesAreTheConfigTags: the known settings are read off Config, so a
// new field is known the moment it has an env tag.
func TestVariablesAreTheConfigTags(t *testing.T) {
	var tags []string
	for f := range reflect.TypeFor[app.Config]().Fields() {
		if tag, ok := f.Tag.Lookup("env"); ok {
			tags = append(tags, strings.Split(tag, ",")[0])
		}
	}
	got := app.Variables()
	slices.Sort(tags)
	slices.Sort(got)
	if !slices.Equal(got, tags) || !slices.Contains(got, "CREDITD_DB_CONNECT_TIMEOUT") {
		t.Fatalf("Variables() = %v, want the env tags %v", got, tags)
	}
}

// TestEveryCREDITDVariableIsKnown: every CREDITD_ name the repository's
// scripts, docs and tests use is a setting or a known tooling variable, so
// `make run` and `make bench` never warn about their own variables; and the
// README documents every setting.
func TestEveryCREDITDVariableIsKnown(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	known := map[string]bool{}
	for _, u := range app.UnknownVariables(nil) {
		t.Fatalf("no environment, yet unknown %v", u)
	}
	for _, v := range app.Variables() {
		known[v] = true
	}
	name := regexp.MustCompile(`CREDITD_[A-Z0-9_]*[A-Z0-9]`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == ".bin" || d.Name() == "results" {
				return filepath.SkipDir
			}
			return nil
		}
		// creditd's own tests spell names wrong on purpose.
		if rel, _ := filepath.Rel(root, path); strings.HasPrefix(rel, filepath.Join("cmd", "creditd")+string(filepath.Separator)) &&
			strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".sh", ".md", ".yaml", ".yml", "":
		default:
			return nil
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range name.FindAllString(string(body), -1) {
			if len(app.UnknownVariables(map[string]string{n: ""})) > 0 {
				t.Errorf("%s uses %s, which is neither a setting (Config) nor in toolingVariables", path, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for v := range known {
		if !strings.Contains(string(readme), "| `"+v+"` |") {
			t.Errorf("README.md's configuration table has no row for %s", v)
		}
	}
}
