package domain

import (
	"fmt"
	"strings"
)

// EventType names something that happened which product backends can be
// told about (application.Event).
type EventType struct{ slug string }

var (
	EventTransactionCreated   = EventType{"transaction.created"}
	EventOrderPaid            = EventType{"order.paid"}
	EventOrderAwaitingDeposit = EventType{"order.awaiting_deposit"}
	EventOrderFailed          = EventType{"order.failed"}
	EventOrderRejected        = EventType{"order.rejected"}
	// EventOrderRefunded is sent for every refund or cancellation, partial
	// ones included: the order's status says which.
	EventOrderRefunded   = EventType{"order.refunded"}
	EventHoldExpired     = EventType{"hold.expired"}
	EventLotsExpiring    = EventType{"lots.expiring"}
	EventBalanceLow      = EventType{"balance.low"}
	EventBalanceDepleted = EventType{"balance.depleted"}
)

// EventTypes lists every event type.
var EventTypes = []EventType{EventTransactionCreated, EventOrderPaid, EventOrderAwaitingDeposit, EventOrderFailed,
	EventOrderRejected, EventOrderRefunded, EventHoldExpired, EventLotsExpiring, EventBalanceLow, EventBalanceDepleted}

// EventTypeFromString parses an event type's name.
func EventTypeFromString(s string) (EventType, error) {
	for _, t := range EventTypes {
		if t.slug == s {
			return t, nil
		}
	}
	names := make([]string, len(EventTypes))
	for i, t := range EventTypes {
		names[i] = t.slug
	}
	return EventType{}, fmt.Errorf("%w: unknown event type %q (known: %s)", ErrInvalidInput, s, strings.Join(names, ", "))
}

func (t EventType) String() string { return t.slug }

// IsZero reports whether t is no event type.
func (t EventType) IsZero() bool { return t.slug == "" }
