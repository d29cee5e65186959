package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// Event settings: the tenant's defaults (GET/PUT /v1/event-settings) and an
// account's own low-balance threshold (PUT /v1/accounts/{id}/settings).

type settingsHandlers struct {
	settings *application.Settings
	accounts *application.Accounts
}

// eventSettingsRequest replaces the tenant's settings: a field left out
// takes its default (no threshold; a notice of P7D).
type eventSettingsRequest struct {
	LowBalanceThreshold *string `json:"lowBalanceThreshold"`
	LotsExpiringNotice  *string `json:"lotsExpiringNotice"`
}

type eventSettingsResponse struct {
	LowBalanceThreshold *string `json:"lowBalanceThreshold"` // null: none
	LotsExpiringNotice  string  `json:"lotsExpiringNotice"`
}

func (h *settingsHandlers) get(c *gin.Context) {
	s, err := h.settings.Current(c.Request.Context(), principal(c).Tenant)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toEventSettingsResponse(s))
}

func (h *settingsHandlers) put(c *gin.Context) {
	var req eventSettingsRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	var fe fieldErrors
	to := application.TenantSettings{LotsExpiringNotice: application.DefaultLotsExpiringNotice}
	to.LowBalanceThreshold = parseThreshold(&fe, "lowBalanceThreshold", req.LowBalanceThreshold)
	if req.LotsExpiringNotice != nil {
		d, err := parseDuration(*req.LotsExpiringNotice)
		if err != nil || d < application.MinLotsExpiringNotice || d > application.MaxLotsExpiringNotice {
			fe.addf("lotsExpiringNotice", "must be an ISO 8601 duration in days, hours or minutes from PT1H to P366D")
		}
		to.LotsExpiringNotice = d
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	s, err := h.settings.ChangeTenant(c.Request.Context(), principal(c).Tenant, to)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toEventSettingsResponse(s))
}

// accountSettingsRequest sets an account's own threshold; null or absent
// removes it, and the tenant's applies.
type accountSettingsRequest struct {
	LowBalanceThreshold *string `json:"lowBalanceThreshold"`
}

func (h *settingsHandlers) putAccount(c *gin.Context) {
	var req accountSettingsRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	var fe fieldErrors
	account := parseAccount(&fe, c.Param("accountId"))
	threshold := parseThreshold(&fe, "lowBalanceThreshold", req.LowBalanceThreshold)
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	ctx, tenant := c.Request.Context(), principal(c).Tenant
	if err := h.accounts.SetLowBalanceThreshold(ctx, tenant, account, threshold); err != nil {
		_ = c.Error(err)
		return
	}
	view, err := h.accounts.GetAccount(ctx, tenant, account)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toAccountResponse(view))
}

// parseThreshold reads an optional positive amount; nil is none (zero).
func parseThreshold(fe *fieldErrors, field string, s *string) domain.Credits {
	if s == nil {
		return domain.ZeroCredits
	}
	return parseAmount(fe, field, *s)
}

func toEventSettingsResponse(s application.TenantSettings) eventSettingsResponse {
	out := eventSettingsResponse{LotsExpiringNotice: formatDuration(s.LotsExpiringNotice)}
	if s.LowBalanceThreshold.IsPositive() {
		t := s.LowBalanceThreshold.String()
		out.LowBalanceThreshold = &t
	}
	return out
}

// formatDuration writes d (whole minutes) as parseDuration reads it: P7D, PT12H, P1DT6H30M.
func formatDuration(d time.Duration) string {
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	var sb strings.Builder
	sb.WriteString("P")
	if days > 0 {
		fmt.Fprintf(&sb, "%dD", days)
	}
	if h, m := rest/time.Hour, rest%time.Hour/time.Minute; h > 0 || m > 0 {
		sb.WriteString("T")
		if h > 0 {
			fmt.Fprintf(&sb, "%dH", h)
		}
		if m > 0 {
			fmt.Fprintf(&sb, "%dM", m)
		}
	}
	return sb.String()
}
