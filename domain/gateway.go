package domain

import "fmt"

// Gateway is the API an order's payment goes through. PortOne serves two:
// V2, and V1 (iamport), which many merchants still sell through. An order
// keeps its gateway for life: its payment exists at that one only.
type Gateway string

const (
	GatewayPortOneV2 Gateway = "v2"
	GatewayPortOneV1 Gateway = "v1"
)

// Gateways lists every gateway.
var Gateways = []Gateway{GatewayPortOneV2, GatewayPortOneV1}

// ParseGateway checks a gateway's name.
func ParseGateway(s string) (Gateway, error) {
	for _, g := range Gateways {
		if string(g) == s {
			return g, nil
		}
	}
	return "", fmt.Errorf("%w: gateway must be %q or %q", ErrInvalidInput, GatewayPortOneV2, GatewayPortOneV1)
}
