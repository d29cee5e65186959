package main

import (
	"errors"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/cmd/creditd/app"
)

// errNoGateway: this build has no payment gateway adapter wired in.
var errNoGateway = errors.New("no payment gateway is configured in this build (the PortOne adapter is not wired into creditd yet)")

// newGateway builds the payment gateway client and the orders' settings
// (store, channel) from the configuration, for admin commands that talk to
// the gateway (reconcile). It is the one place to wire the PortOne adapter
// (adapters/portone) and its settings into the command line.
func newGateway(app.Config) (application.PaymentGateway, application.OrdersConfig, error) {
	return nil, application.OrdersConfig{}, errNoGateway
}
