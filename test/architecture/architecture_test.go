// Package architecture keeps the hexagonal dependency rule: domain <-
// application <- adapters <- cmd, and fx only at the edges.
package architecture

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/creditd/creditd"

// importRule says which imports a layer's non-test files may have.
type importRule struct {
	layer   string
	allowed func(imp string) bool
}

func isStdlib(imp string) bool { return !strings.Contains(strings.Split(imp, "/")[0], ".") }

var rules = []importRule{
	{"domain", func(imp string) bool {
		return isStdlib(imp) || imp == "github.com/shopspring/decimal" || imp == "github.com/google/uuid"
	}},
	{"application", func(imp string) bool {
		return isStdlib(imp) || imp == module+"/domain"
	}},
	{"adapters", func(imp string) bool {
		return !strings.HasPrefix(imp, module+"/cmd") && !strings.HasPrefix(imp, module+"/test")
	}},
}

func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// imports lists each Go file under dir with its imports, skipping _test.go files when asked.
func imports(t *testing.T, dir string, withTests bool) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || (!withTests && strings.HasSuffix(path, "_test.go")) {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			out[path] = append(out[path], strings.Trim(imp.Path.Value, `"`))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no Go files under %s", dir)
	}
	return out
}

func TestDependenciesPointInward(t *testing.T) {
	for _, rule := range rules {
		for file, imps := range imports(t, filepath.Join(root(t), rule.layer), false) {
			for _, imp := range imps {
				if !rule.allowed(imp) {
					t.Errorf("%s (%s layer) imports %s", file, rule.layer, imp)
				}
			}
		}
	}
}

// TestFxStaysAtTheEdges: fx appears only in adapters' module.go files (and
// the module_test.go that checks them) and in cmd/.
func TestFxStaysAtTheEdges(t *testing.T) {
	for _, layer := range []string{"domain", "application", "adapters", "migrations"} {
		for file, imps := range imports(t, filepath.Join(root(t), layer), true) {
			for _, imp := range imps {
				if strings.HasPrefix(imp, "go.uber.org/fx") && !(layer == "adapters" && (filepath.Base(file) == "module.go" || filepath.Base(file) == "module_test.go")) {
					t.Errorf("%s imports %s; fx belongs in adapters/*/module.go and cmd/", file, imp)
				}
			}
		}
	}
}

// TestInfrastructureStaysInItsAdapter: only the postgres adapter (and the
// tools that wire or test it) may speak bun or pgx.
func TestInfrastructureStaysInItsAdapter(t *testing.T) {
	for file, imps := range imports(t, filepath.Join(root(t), "adapters"), false) {
		inPostgres := strings.Contains(filepath.ToSlash(file), "/adapters/postgres/")
		for _, imp := range imps {
			if !inPostgres && (strings.HasPrefix(imp, "github.com/uptrace/bun") || strings.HasPrefix(imp, "github.com/jackc/pgx")) {
				t.Errorf("%s imports %s outside adapters/postgres", file, imp)
			}
		}
	}
}
