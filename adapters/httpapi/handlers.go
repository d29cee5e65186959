package httpapi

import (
	"context"
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
	accounts *application.Accounts
	holds    *application.Holds
	clock    application.Clock
}

func (h *handlers) getAccount(c *gin.Context) {
	var fe fieldErrors
	account := parseAccount(&fe, c.Param("accountId"))
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	view, err := h.accounts.GetAccount(c.Request.Context(), principal(c).Tenant, account)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toAccountResponse(view))
}

func (h *handlers) grant(c *gin.Context) {
	idempotentPost(c, http.StatusCreated, func(r grantRequest) (application.GrantCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("accountId"), h.clock.Now())
	}, h.accounts.Grant, renderTransaction)
}

func (h *handlers) spend(c *gin.Context) {
	idempotentPost(c, http.StatusCreated, func(r spendRequest) (application.SpendCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("accountId"))
	}, h.accounts.Spend, renderTransaction)
}

func (h *handlers) placeHold(c *gin.Context) {
	idempotentPost(c, http.StatusCreated, func(r placeHoldRequest) (application.PlaceHoldCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("accountId"))
	}, h.holds.Place, h.renderHold)
}

func (h *handlers) captureHold(c *gin.Context) {
	idempotentPost(c, http.StatusOK, func(r captureRequest) (application.CaptureCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("holdId"))
	}, h.holds.Capture, func(r application.Capture) any {
		return captureResponse{Hold: toHoldResponse(r.Hold, h.clock.Now()), Transaction: toTransactionResponse(r.Transaction)}
	})
}

func (h *handlers) extendHold(c *gin.Context) {
	idempotentPost(c, http.StatusOK, func(r extendHoldRequest) (application.ExtendHoldCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("holdId"))
	}, h.holds.Extend, h.renderHold)
}

func (h *handlers) releaseHold(c *gin.Context) {
	idempotentPost(c, http.StatusOK, func(r releaseRequest) (application.ReleaseCommand, error) {
		return r.toCommand(principal(c).Tenant, c.Param("holdId"))
	}, h.holds.Release, h.renderHold)
}

// idempotentPost is the shape of every POST: bind the body, convert it to a
// command, run the use case at most once per Idempotency-Key, and answer with
// the stored receipt (fresh or replayed).
func idempotentPost[Req, Cmd, T any](c *gin.Context, status int, toCommand func(Req) (Cmd, error),
	run func(context.Context, Cmd, *application.Idempotency[T]) (T, *application.Receipt, error), render func(T) any) {
	var req Req
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	cmd, err := toCommand(req)
	if err != nil {
		_ = c.Error(err)
		return
	}
	idem, err := idempotent(c, req, status, render)
	if err != nil {
		_ = c.Error(err)
		return
	}
	_, receipt, err := run(c.Request.Context(), cmd, idem)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeReceipt(c, receipt)
}

func renderTransaction(t domain.Transaction) any { return toTransactionResponse(t) }

func (h *handlers) renderHold(hold application.HoldView) any {
	return toHoldResponse(hold, h.clock.Now())
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
