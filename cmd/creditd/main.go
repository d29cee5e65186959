// Command creditd is the credit ledger service and its admin commands.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

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
	APIKey  apiKeyCmd        `cmd:"" name:"apikey" help:"Create or revoke tenants' API keys."`
	Verify  verifyCmd        `cmd:"" help:"Recompute every balance from the postings; exit 1 on any drift."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kong.Name("creditd"),
		kong.Description("creditd: a credit ledger for products that sell credits."), kong.UsageOnError(),
		kong.Vars{"version": app.Version()})
	cfg, err := app.LoadConfig(env.ToMap(os.Environ()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "creditd:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	// One line on stderr: what failed and why. Each command's errors name
	// what they were doing; none carries a password.
	if err := ctx.Run(cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "creditd:", err)
		os.Exit(1)
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
	Revoke apiKeyRevokeCmd `cmd:"" help:"Revoke an API key by its id."`
}

type apiKeyCreateCmd struct {
	Tenant string   `required:"" help:"Tenant name: 1-64 of a-z, 0-9, '-', '_', '.'."`
	Scopes []string `help:"Scopes to grant (credits:read, credits:write); default all." sep:","`
}

func (c apiKeyCreateCmd) Run(cfg app.Config, log *slog.Logger) error {
	tenant, err := domain.ParseTenantName(c.Tenant)
	if err != nil {
		return err
	}
	var scopes []domain.Scope
	for _, s := range c.Scopes {
		sc, err := domain.ScopeFromString(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		scopes = append(scopes, sc)
	}
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		keys := application.NewAPIKeys(postgres.NewAPIKeyStore(db), system.Clock{}, system.UUIDv7{})
		key, err := keys.Create(ctx, tenant, scopes)
		if err != nil {
			return err
		}
		names := make([]string, len(key.Scopes))
		for i, s := range key.Scopes {
			names[i] = s.String()
		}
		fmt.Fprintf(os.Stderr, "created API key %s for tenant %s with scopes %s; it is shown once:\n",
			key.ID, tenant, strings.Join(names, ","))
		fmt.Println(key.Secret)
		return nil
	})
}

type apiKeyRevokeCmd struct {
	ID string `arg:"" help:"The key's id, as printed when it was created."`
}

func (c apiKeyRevokeCmd) Run(cfg app.Config, log *slog.Logger) error {
	id, err := domain.ParseAPIKeyID(c.ID)
	if err != nil {
		return err
	}
	return withDB(cfg, log, func(ctx context.Context, db dbHandle) error {
		if err := application.NewAPIKeys(postgres.NewAPIKeyStore(db), system.Clock{}, system.UUIDv7{}).Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Println("revoked", id)
		return nil
	})
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
