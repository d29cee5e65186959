// Command creditd is the credit ledger service and its admin commands.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"
	"github.com/caarlos0/env/v11"

	"github.com/creditd/creditd/adapters/postgres"
	"github.com/creditd/creditd/adapters/system"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
	"github.com/creditd/creditd/domain"
)

// cli is the command line; serve runs when no command is given.
type cli struct {
	Version kong.VersionFlag `help:"Print creditd's version and exit."`
	Serve   serveCmd         `cmd:"" default:"1" help:"Run the HTTP API and the background sweeps (the default)."`
	Migrate migrateCmd       `cmd:"" help:"Apply pending database migrations and exit."`
	APIKey  apiKeyCmd        `cmd:"" name:"apikey" help:"Create, list, check or revoke tenants' API keys."`
	Verify  verifyCmd        `cmd:"" help:"Recompute every balance from the postings; exit 1 on any drift."`

	Reconcile reconcileCmd `cmd:"" help:"Re-read PortOne's payments of a recent window and sync every order that disagrees; exit 1 if any sync failed."`
}

// Exit codes, as for most Unix tools: 1 when the command ran and failed
// (verify finding drift included), 2 when it could not run as asked.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError makes kong exit with exitUsage rather than its own 80.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
func (usageError) ExitCode() int   { return exitUsage }

func main() {
	var c cli
	parser := kong.Must(&c, kong.Name("creditd"),
		kong.Description("creditd: a credit ledger for products that sell credits."), kong.UsageOnError(),
		kong.Vars{"version": app.Version()})
	command, err := parser.Parse(os.Args[1:])
	if err != nil {
		parser.FatalIfErrorf(usageError{err}) // prints the usage and the error, then exits
	}

	environment := env.ToMap(os.Environ())
	unknown := app.UnknownVariables(environment)
	cfg, err := app.LoadConfig(environment)
	if err != nil {
		fmt.Fprintln(os.Stderr, "creditd:", err)
		for _, u := range unknown { // a misspelt name may be why a setting is missing
			fmt.Fprintln(os.Stderr, "creditd: note:", u)
		}
		os.Exit(exitUsage)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	for _, u := range unknown {
		log.Warn(u.String(), "variable", u.Name)
	}
	// One line on stderr: what failed and why. Each command's errors name
	// what they were doing; none carries a password.
	if err := command.Run(cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "creditd:", err)
		os.Exit(exitFailure)
	}
}

type migrateCmd struct{}

func (migrateCmd) Run(cfg app.Config, log *slog.Logger) error {
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		applied, err := postgres.Migrate(ctx, db)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Println("database is up to date")
		}
		for _, name := range applied {
			fmt.Println("applied", name)
		}
		return nil
	})
}

type apiKeyCmd struct {
	Create apiKeyCreateCmd `cmd:"" help:"Create an API key for a tenant (created if new); prints the key once."`
	List   apiKeyListCmd   `cmd:"" help:"List API keys, newest first: id, tenant, scopes, when created and revoked (never the secret)."`
	Check  apiKeyCheckCmd  `cmd:"" help:"Read a key from standard input; exit 0 if it authenticates, 1 if not."`
	Revoke apiKeyRevokeCmd `cmd:"" help:"Revoke an API key by its id."`
}

type apiKeyCreateCmd struct {
	Tenant tenantFlag  `required:"" placeholder:"NAME" help:"Tenant name: 1-64 of a-z, 0-9, '-', '_', '.'."`
	Scopes []scopeFlag `placeholder:"SCOPE" help:"Scopes to grant (credits:read, credits:write, catalog:write, orders:read, orders:write, events:read, events:write); default all." sep:","`
}

func (c apiKeyCreateCmd) Run(cfg app.Config, log *slog.Logger) error {
	tenant := c.Tenant.TenantName
	var scopes []domain.Scope
	for _, s := range c.Scopes {
		scopes = append(scopes, s.Scope)
	}
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		key, err := newAPIKeys(db).Create(ctx, tenant, scopes)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "created API key %s for tenant %s with scopes %s; it is shown once:\n",
			key.ID, tenant, scopeNames(key.Scopes))
		fmt.Println(key.Secret)
		return nil
	})
}

type apiKeyListCmd struct {
	Tenant tenantFlag `placeholder:"NAME" help:"Only this tenant's keys."`
}

func (c apiKeyListCmd) Run(cfg app.Config, log *slog.Logger) error {
	tenant := c.Tenant.TenantName // zero: every tenant
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		keys, err := newAPIKeys(db).List(ctx, tenant)
		if err != nil {
			return err
		}
		return printAPIKeys(os.Stdout, keys)
	})
}

// printAPIKeys writes keys as an aligned table, times in UTC.
func printAPIKeys(w io.Writer, keys []application.APIKeyInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tSCOPES\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if !k.RevokedAt.IsZero() {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.TenantName, scopeNames(k.Scopes),
			k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

type apiKeyCheckCmd struct{}

// Run reads the key from standard input rather than the command line, where
// other users of the machine could see it (ps, shell history).
func (apiKeyCheckCmd) Run(cfg app.Config, log *slog.Logger) error {
	secret, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the API key from standard input: %w", err)
	}
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		p, err := newAPIKeys(db).Authenticate(ctx, strings.TrimSpace(secret))
		if err != nil {
			return err
		}
		fmt.Printf("API key %s of tenant %s works, with scopes %s\n", p.Key, p.TenantName, scopeNames(p.Scopes))
		return nil
	})
}

func newAPIKeys(db dbHandle) *application.APIKeys {
	return application.NewAPIKeys(postgres.NewAPIKeyStore(db), system.Clock{}, system.UUIDv7{})
}

func scopeNames(scopes []domain.Scope) string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = s.String()
	}
	return strings.Join(names, ",")
}

type apiKeyRevokeCmd struct {
	ID apiKeyIDArg `arg:"" help:"The key's id, as printed when it was created."`
}

func (c apiKeyRevokeCmd) Run(cfg app.Config, log *slog.Logger) error {
	id := c.ID.APIKeyID
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		if err := newAPIKeys(db).Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Println("revoked", id)
		return nil
	})
}

// tenantFlag, scopeFlag and apiKeyIDArg are parsed with the command line,
// so a bad value is a usage error that names its flag.
type (
	tenantFlag  struct{ domain.TenantName }
	scopeFlag   struct{ domain.Scope }
	apiKeyIDArg struct{ domain.APIKeyID }
)

func (f *tenantFlag) UnmarshalText(b []byte) (err error) {
	f.TenantName, err = domain.ParseTenantName(string(b))
	return err
}

func (f *scopeFlag) UnmarshalText(b []byte) (err error) {
	f.Scope, err = domain.ScopeFromString(strings.TrimSpace(string(b)))
	return err
}

func (a *apiKeyIDArg) UnmarshalText(b []byte) (err error) {
	a.APIKeyID, err = domain.ParseAPIKeyID(string(b))
	return err
}

type verifyCmd struct{}

// errDrift makes verify exit 1 after its report.
type errDrift struct{ n int }

func (e errDrift) Error() string { return fmt.Sprintf("ledger verification found %d drifts", e.n) }

func (verifyCmd) Run(cfg app.Config, log *slog.Logger) error {
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		report, err := application.NewVerifier(postgres.NewAuditor(db)).Verify(ctx)
		if err != nil {
			return err
		}
		for _, d := range report.Drifts {
			fmt.Println("DRIFT", d)
		}
		fmt.Printf("checked %d wallets and %d transactions: %d drifts\n", report.Wallets, report.Transactions, len(report.Drifts))
		if len(report.Drifts) > 0 {
			return errDrift{len(report.Drifts)}
		}
		return nil
	})
}
