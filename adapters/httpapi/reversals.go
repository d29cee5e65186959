package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// reversalHandlers serve POST /v1/transactions/{transactionId}/reversals.
type reversalHandlers struct {
	reversals *application.Reversals
}

func (h *reversalHandlers) reverse(c *gin.Context) {
	idempotentPost(c, http.StatusCreated, func(r reverseRequest) (application.ReverseCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("transactionId"))
	}, h.reversals.Reverse, renderTransaction)
}

// reverseRequest reverses part (amount) or all that is left (no amount) of
// a transaction; the reason is required, as a correction must say why.
type reverseRequest struct {
	Amount *string `json:"amount,omitempty"`
	Reason string  `json:"reason"`
}

func (r reverseRequest) toCommand(tenant domain.TenantID, transactionParam string) (application.ReverseCommand, error) {
	var fe fieldErrors
	cmd := application.ReverseCommand{Tenant: tenant}
	cmd.Transaction = parseTransaction(&fe, transactionParam)
	if r.Amount != nil {
		a := parseAmount(&fe, "amount", *r.Amount)
		cmd.Amount = &a
	}
	if r.Reason == "" {
		fe.addf("reason", "is required")
	}
	cmd.Memo = parseMemo(&fe, r.Reason, nil)
	return cmd, fe.err()
}

// parseTransaction reads a transaction id in its canonical form only, as
// parseHold does, so a retry cannot spell one transaction two ways.
func parseTransaction(fe *fieldErrors, s string) domain.TransactionID {
	id, err := domain.ParseTransactionID(s)
	if err != nil || len(s) != holdIDLength {
		fe.addf("transactionId", "must be a transaction id: a UUID in its canonical form")
	}
	return id
}

// withReversals adds to a transaction of a page what reversals link it to.
func withReversals(out transactionResponse, info application.ReversalInfo) transactionResponse {
	if info.Of != nil && out.ReversalOf == nil {
		s := info.Of.String()
		out.ReversalOf = &s
	}
	if len(info.By) > 0 {
		out.ReversedAmount = info.Reversed.String()
		out.Reversals = make([]string, len(info.By))
		for i, id := range info.By {
			out.Reversals[i] = id.String()
		}
	}
	return out
}
