package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// handlers drive the use cases. Each one binds the request into a DTO,
// converts it to domain values, calls exactly one use case and maps the
// result to a response DTO; on failure it records the error for mapErrors.
type handlers struct {
	credits *application.Credits
	holds   *application.Holds
	clock   application.Clock
}

func (h *handlers) getAccount(c *gin.Context) {
	var fe fieldErrors
	account := parseAccount(&fe, c.Param("accountId"))
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	view, err := h.credits.GetAccount(c.Request.Context(), principal(c).Tenant, account)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toAccountResponse(view))
}

func (h *handlers) grant(c *gin.Context) {
	var req grantRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	cmd, err := req.toCommand(principal(c).Tenant, c.Param("accountId"), h.clock.Now())
	if err != nil {
		_ = c.Error(err)
		return
	}
	idem, err := idempotent(c, req, http.StatusCreated, func(t domain.Transaction) any { return toTransactionResponse(t) })
	if err != nil {
		_ = c.Error(err)
		return
	}
	_, receipt, err := h.credits.Grant(c.Request.Context(), cmd, idem)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeReceipt(c, receipt)
}

func (h *handlers) spend(c *gin.Context) {
	var req spendRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	cmd, err := req.toCommand(principal(c).Tenant, c.Param("accountId"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	idem, err := idempotent(c, req, http.StatusCreated, func(t domain.Transaction) any { return toTransactionResponse(t) })
	if err != nil {
		_ = c.Error(err)
		return
	}
	_, receipt, err := h.credits.Spend(c.Request.Context(), cmd, idem)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeReceipt(c, receipt)
}

func (h *handlers) listTransactions(c *gin.Context) {
	q, err := parseHistoryQuery(c.Param("accountId"), c.Query("limit"), c.Query("cursor"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	page, err := h.credits.ListTransactions(c.Request.Context(), principal(c).Tenant, q.account, q.limit, q.after)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toHistoryResponse(page))
}

func (h *handlers) placeHold(c *gin.Context) {
	var req placeHoldRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	cmd, err := req.toCommand(principal(c).Tenant, c.Param("accountId"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	idem, err := idempotent(c, req, http.StatusCreated, func(hold *domain.Hold) any { return toHoldResponse(hold, h.clock.Now()) })
	if err != nil {
		_ = c.Error(err)
		return
	}
	_, receipt, err := h.holds.Place(c.Request.Context(), cmd, idem)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeReceipt(c, receipt)
}

func (h *handlers) captureHold(c *gin.Context) {
	var req captureRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	cmd, err := req.toCommand(principal(c).Tenant, c.Param("holdId"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	idem, err := idempotent(c, req, http.StatusOK, func(r application.Capture) any {
		return captureResponse{Hold: toHoldResponse(r.Hold, h.clock.Now()), Transaction: toTransactionResponse(r.Transaction)}
	})
	if err != nil {
		_ = c.Error(err)
		return
	}
	_, receipt, err := h.holds.Capture(c.Request.Context(), cmd, idem)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeReceipt(c, receipt)
}

func (h *handlers) releaseHold(c *gin.Context) {
	var req releaseRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	cmd, err := req.toCommand(principal(c).Tenant, c.Param("holdId"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	idem, err := idempotent(c, req, http.StatusOK, func(hold *domain.Hold) any { return toHoldResponse(hold, h.clock.Now()) })
	if err != nil {
		_ = c.Error(err)
		return
	}
	_, receipt, err := h.holds.Release(c.Request.Context(), cmd, idem)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeReceipt(c, receipt)
}

func (h *handlers) getHold(c *gin.Context) {
	var fe fieldErrors
	id := parseHold(&fe, c.Param("holdId"))
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	hold, err := h.holds.Get(c.Request.Context(), principal(c).Tenant, id)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toHoldResponse(hold, h.clock.Now()))
}

// principal is who the auth middleware said the request acts for.
func principal(c *gin.Context) domain.Principal {
	p, _ := c.Get(ctxPrincipal)
	return p.(domain.Principal) // routes that call this sit behind authenticate
}

// writeJSON renders with encoding/json, as receipts do, so a replayed body and
// a fresh one are encoded alike.
func writeJSON(c *gin.Context, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		_ = c.Error(fmt.Errorf("encode response: %w", err))
		return
	}
	c.Data(status, contentTypeJSON, b)
}
