package httpapi_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// TestEveryErrorMapsToAProblem: every error the domain declares is a
// rejection (the one list the replay store also reads) and answers a 4xx
// problem of its own type, and every error the application declares is
// mapped deliberately: a new one fails this test until it is given a status.
func TestEveryErrorMapsToAProblem(t *testing.T) {
	if declared := exportedErrors(t, "../../domain"); len(declared) != len(domain.Rejections()) {
		t.Fatalf("the domain declares %v, but Rejections lists %d: every domain error must be a rejection", declared, len(domain.Rejections()))
	}
	seen := map[string]error{}
	for _, rejection := range domain.Rejections() {
		status, slug, known := httpapi.ProblemFor(fmt.Errorf("some context: %w", rejection))
		if !known || status < 400 || status >= 500 {
			t.Errorf("rejection %q answers %d %s (known: %v), want a 4xx of its own", rejection, status, slug, known)
		}
		if other, dup := seen[slug]; dup {
			t.Errorf("rejections %q and %q share the problem type %s", rejection, other, slug)
		}
		seen[slug] = rejection
	}

	applicationErrors := map[string]struct {
		err    error
		status int
	}{
		"ErrUnauthenticated":      {application.ErrUnauthenticated, http.StatusUnauthorized},
		"ErrIdempotencyKeyReused": {application.ErrIdempotencyKeyReused, http.StatusUnprocessableEntity},
		"ErrUnavailable":          {application.ErrUnavailable, http.StatusServiceUnavailable},
		// Never reach a client: runOnce turns a taken key into a replay, and
		// a unit of work outside its scope is a programming error.
		"ErrIdempotencyKeyTaken": {application.ErrIdempotencyKeyTaken, http.StatusInternalServerError},
		"ErrOutOfScope":          {application.ErrOutOfScope, http.StatusInternalServerError},
		// A payment the gateway does not know is one not paid yet: sync waits.
		"ErrPaymentNotFound": {application.ErrPaymentNotFound, http.StatusInternalServerError},
		"ErrInvalidWebhook":  {application.ErrInvalidWebhook, http.StatusBadRequest},
		// The complete handler answers with the rejected order instead.
		"ErrCancelFailed": {application.ErrCancelFailed, http.StatusInternalServerError},
		// PortOne refused a request creditd made: a misconfiguration, not the client's fault.
		"ErrGatewayRefused": {application.ErrGatewayRefused, http.StatusBadGateway},
	}
	for _, name := range exportedErrors(t, "../../application") {
		want, ok := applicationErrors[name]
		if !ok {
			t.Errorf("application.%s is not mapped by this test: give it a status", name)
			continue
		}
		if status, slug, _ := httpapi.ProblemFor(want.err); status != want.status {
			t.Errorf("application.%s answers %d %s, want %d", name, status, slug, want.status)
		}
		if domain.IsRejection(want.err) {
			t.Errorf("application.%s is classified as a rejection, so it would be stored for replay", name)
		}
	}
	if status, slug, known := httpapi.ProblemFor(fmt.Errorf("boom")); known || status != http.StatusInternalServerError || slug != "internal" {
		t.Errorf("an unknown error answers %d %s (known: %v)", status, slug, known)
	}
}

// exportedErrors lists the exported Err* variables declared in the package
// in dir, from its source.
func exportedErrors(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
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
			if gen, ok := decl.(*ast.GenDecl); ok && gen.Tok == token.VAR {
				for _, spec := range gen.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						if strings.HasPrefix(name.Name, "Err") && name.IsExported() {
							names = append(names, name.Name)
						}
					}
				}
			}
		}
	}
	return names
}
