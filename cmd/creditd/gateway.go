package main

import (
	"errors"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
)

// errNoGateway: PortOne is not configured.
var errNoGateway = errors.New("PortOne is not configured: set PORTONE_API_SECRET, PORTONE_STORE_ID, PORTONE_CHANNEL_KEY and " +
	"PORTONE_WEBHOOK_SECRETS (V2), or PORTONE_V1_IMP_KEY, PORTONE_V1_IMP_SECRET, PORTONE_V1_IMP_CODE and PORTONE_V1_PG (V1)")

// newGateways builds the PortOne clients and the orders' settings from the
// configuration, as the service does, for admin commands that talk to
// PortOne (reconcile).
func newGateways(cfg app.Config) (application.PaymentGateways, application.OrdersConfig, error) {
	if !cfg.SellsCredits() {
		return nil, application.OrdersConfig{}, errNoGateway
	}
	gws, err := app.PaymentGateways(cfg)
	if err != nil {
		return nil, application.OrdersConfig{}, err
	}
	return gws, app.OrdersSettings(cfg), nil
}
