package domain_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditd/creditd/domain"
)

// exportedErrors lists the exported Err* variables declared in the
// domain package's source, so a new one cannot escape the tests below.
func exportedErrors(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.VAR {
				continue
			}
			for _, spec := range gen.Specs {
				for _, name := range spec.(*ast.ValueSpec).Names {
					if strings.HasPrefix(name.Name, "Err") && name.IsExported() {
						names = append(names, name.Name)
					}
				}
			}
		}
	}
	return names
}

// TestEveryDomainErrorIsARejection: the domain's error categories are all
// business refusals, listed once by Rejections (which the replay store and
// the HTTP error table rely on), and told apart from one another.
func TestEveryDomainErrorIsARejection(t *testing.T) {
	byName := map[string]error{
		"ErrInvalidInput": domain.ErrInvalidInput, "ErrNotFound": domain.ErrNotFound,
		"ErrInsufficientCredits": domain.ErrInsufficientCredits, "ErrHoldNotCapturable": domain.ErrHoldNotCapturable,
		"ErrHoldNotReleasable": domain.ErrHoldNotReleasable, "ErrCaptureExceedsHold": domain.ErrCaptureExceedsHold,
		"ErrBalanceLimit": domain.ErrBalanceLimit,
	}
	declared := exportedErrors(t)
	if len(declared) != len(byName) || len(domain.Rejections()) != len(declared) {
		t.Fatalf("the domain declares %v, Rejections lists %d, this test knows %d: classify the new error and add it here",
			declared, len(domain.Rejections()), len(byName))
	}
	for _, name := range declared {
		err, ok := byName[name]
		if !ok {
			t.Fatalf("%s is not known to this test", name)
		}
		if !domain.IsRejection(err) || !domain.IsRejection(errors.Join(errors.New("context"), err)) {
			t.Errorf("%s is not a rejection", name)
		}
		for other, o := range byName {
			if other != name && errors.Is(err, o) {
				t.Errorf("%s is also %s", name, other)
			}
		}
	}
	insufficient := &domain.InsufficientCreditsError{}
	if !domain.IsRejection(insufficient) || !errors.Is(insufficient, domain.ErrInsufficientCredits) {
		t.Error("InsufficientCreditsError is not an insufficient-credits rejection")
	}
	for _, err := range []error{errors.New("connection refused"), nil} {
		if domain.IsRejection(err) {
			t.Errorf("%v is a rejection", err)
		}
	}
}
