package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/jackc/pgx/v5"
)

// Config is creditd's whole configuration, read from the environment. The
// README's configuration table lists the same variables.
type Config struct {
	DatabaseURL          string        `env:"DATABASE_URL"`
	Addr                 string        `env:"CREDITD_ADDR" envDefault:":8080"`
	DBMaxConns           int           `env:"CREDITD_DB_MAX_CONNS" envDefault:"8"`
	DBWriteLanes         int           `env:"CREDITD_DB_WRITE_LANES" envDefault:"2"`
	DBReadLanes          int           `env:"CREDITD_DB_READ_LANES" envDefault:"2"`
	DBConnectTimeout     time.Duration `env:"CREDITD_DB_CONNECT_TIMEOUT" envDefault:"30s"`
	MigrateOnStart       bool          `env:"CREDITD_MIGRATE_ON_START" envDefault:"true"`
	MaxBodyBytes         int64         `env:"CREDITD_MAX_BODY_BYTES" envDefault:"65536"`
	LogLevel             slog.Level    `env:"CREDITD_LOG_LEVEL" envDefault:"info"`
	SweepInterval        time.Duration `env:"CREDITD_SWEEP_INTERVAL" envDefault:"5s"`
	SweepBatch           int           `env:"CREDITD_SWEEP_BATCH" envDefault:"500"`
	IdempotencyRetention time.Duration `env:"CREDITD_IDEMPOTENCY_RETENTION" envDefault:"720h"`
	ShutdownTimeout      time.Duration `env:"CREDITD_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	PprofAddr            string        `env:"CREDITD_PPROF_ADDR"`
}

// minIdempotencyRetention is the 30 days clients are promised.
const minIdempotencyRetention = 30 * 24 * time.Hour

// LoadConfig reads the environment (as from env.ToMap(os.Environ())) and
// reports every bad value at once.
func LoadConfig(environment map[string]string) (Config, error) {
	var cfg Config
	errs := parseErrors(env.ParseWithOptions(&cfg, env.Options{Environment: environment}))
	if cfg.DatabaseURL == "" {
		errs = append(errs, errors.New(`DATABASE_URL is required (e.g. "postgres://user:pass@localhost:5432/creditd")`))
	} else if _, err := pgx.ParseConfig(cfg.DatabaseURL); err != nil {
		errs = append(errs, errors.New("DATABASE_URL is not a valid PostgreSQL URL or DSN")) // the URL may hold a password: do not echo it
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		errs = append(errs, fmt.Errorf("CREDITD_ADDR %q is not a listen address like \":8080\" or \"127.0.0.1:8080\"", cfg.Addr))
	}
	if cfg.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.PprofAddr); err != nil {
			errs = append(errs, fmt.Errorf("CREDITD_PPROF_ADDR %q is not a listen address like \"127.0.0.1:6060\"", cfg.PprofAddr))
		}
	}
	if cfg.DBConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("CREDITD_DB_CONNECT_TIMEOUT %s must not be negative (0 tries once)", cfg.DBConnectTimeout))
	}
	if cfg.DBMaxConns < 1 || cfg.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("CREDITD_DB_MAX_CONNS %d must be between 1 and 1000", cfg.DBMaxConns))
	}
	if cfg.DBWriteLanes < 1 || cfg.DBWriteLanes > cfg.DBMaxConns {
		errs = append(errs, fmt.Errorf("CREDITD_DB_WRITE_LANES %d must be between 1 and CREDITD_DB_MAX_CONNS (%d)", cfg.DBWriteLanes, cfg.DBMaxConns))
	}
	if cfg.DBReadLanes < 1 || cfg.DBReadLanes > cfg.DBMaxConns {
		errs = append(errs, fmt.Errorf("CREDITD_DB_READ_LANES %d must be between 1 and CREDITD_DB_MAX_CONNS (%d)", cfg.DBReadLanes, cfg.DBMaxConns))
	}
	if cfg.MaxBodyBytes < 1024 || cfg.MaxBodyBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("CREDITD_MAX_BODY_BYTES %d must be between 1024 and 16777216", cfg.MaxBodyBytes))
	}
	if cfg.SweepInterval < 0 {
		errs = append(errs, fmt.Errorf("CREDITD_SWEEP_INTERVAL %s must not be negative (0 disables sweeping)", cfg.SweepInterval))
	}
	if cfg.SweepBatch < 1 || cfg.SweepBatch > 10000 {
		errs = append(errs, fmt.Errorf("CREDITD_SWEEP_BATCH %d must be between 1 and 10000", cfg.SweepBatch))
	}
	if cfg.IdempotencyRetention < minIdempotencyRetention {
		errs = append(errs, fmt.Errorf("CREDITD_IDEMPOTENCY_RETENTION %s must be at least %s (30 days)", cfg.IdempotencyRetention, minIdempotencyRetention))
	}
	if cfg.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("CREDITD_SHUTDOWN_TIMEOUT %s must be positive", cfg.ShutdownTimeout))
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// parseErrors restates the env library's errors, which name Go fields, in
// terms of the variables a user sets.
func parseErrors(err error) []error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		if err != nil {
			return []error{err}
		}
		return nil
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			continue
		}
		name := pe.Name
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name, _, _ = strings.Cut(f.Tag.Get("env"), ",")
		}
		out = append(out, fmt.Errorf("%s: %w", name, pe.Err))
	}
	return out
}
