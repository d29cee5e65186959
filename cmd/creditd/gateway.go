package main

import (
	"errors"

	"github.com/creditd/creditd/adapters/portone"
	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
)

// errNoGateway: PortOne is not configured.
var errNoGateway = errors.New("PortOne is not configured: set PORTONE_API_SECRET, PORTONE_STORE_ID, PORTONE_CHANNEL_KEY and PORTONE_WEBHOOK_SECRETS")

// newGateway builds the PortOne client and the orders' settings from the
// configuration, as the service does, for admin commands that talk to
// PortOne (reconcile).
func newGateway(cfg app.Config) (application.PaymentGateway, application.OrdersConfig, error) {
	if !cfg.SellsCredits() {
		return nil, application.OrdersConfig{}, errNoGateway
	}
	gw, err := portone.New(app.PortOneSettings(cfg).Client)
	if err != nil {
		return nil, application.OrdersConfig{}, err
	}
	return gw, app.OrdersSettings(cfg), nil
}
