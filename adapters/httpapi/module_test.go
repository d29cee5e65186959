package httpapi_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/creditd/creditd/adapters/httpapi"
	"github.com/creditd/creditd/adapters/memory"
	"github.com/creditd/creditd/application"
)

// appOptions wires the module the way cmd/creditd would, on the memory store.
func appOptions(addr string) []fx.Option {
	store, clock, ids := memory.NewStore(), memory.NewFixedClock(start), &memory.SequentialIDs{}
	return []fx.Option{
		fx.NopLogger,
		fx.Supply(
			httpapi.ServerConfig{Addr: addr},
			fx.Annotate(clock, fx.As(new(application.Clock))),
			slog.New(slog.DiscardHandler),
		),
		fx.Provide(
			func() *application.Accounts {
				return application.NewAccounts(store.UnitOfWork(), store.Queries(), clock, ids)
			},
			func() *application.Holds {
				return application.NewHolds(store.UnitOfWork(), store.Queries(), clock, ids)
			},
			func() *application.Catalog { return application.NewCatalog(store.Products(), clock) },
			func() *application.APIKeys { return application.NewAPIKeys(store.APIKeys(), clock, ids) },
		),
		httpapi.Module,
	}
}

func TestModuleWiring(t *testing.T) {
	require.NoError(t, fx.ValidateApp(appOptions(":0")...))

	var srv *httpapi.Server
	app := fxtest.New(t, append(appOptions("127.0.0.1:0"), fx.Populate(&srv))...)
	app.RequireStart()
	assert.Equal(t, http.StatusOK, getStatus(t, "http://"+srv.Addr()+"/readyz"))
	assert.Equal(t, http.StatusUnauthorized, getStatus(t, "http://"+srv.Addr()+"/v1/accounts/x"))
	app.RequireStop()
}
