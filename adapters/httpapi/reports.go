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

// reportHandlers serve tenant-wide reports.
type reportHandlers struct{ reports *application.Reports }

type bySourceResponse struct {
	Paid  string `json:"paid"`
	Bonus string `json:"bonus"`
}

type byOriginResponse struct {
	Purchase string `json:"purchase"`
	Manual   string `json:"manual"`
}

type summaryResponse struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Granted struct {
		Paid  byOriginResponse `json:"paid"`
		Bonus byOriginResponse `json:"bonus"`
	} `json:"granted"`
	Consumed bySourceResponse `json:"consumed"`
	Expired  bySourceResponse `json:"expired"`
	Refunded struct {
		bySourceResponse
		Debt     string `json:"debt"`
		Absorbed string `json:"absorbed"`
	} `json:"refunded"`
	Reversed struct {
		Returned  bySourceResponse `json:"returned"`
		TakenBack bySourceResponse `json:"takenBack"`
	} `json:"reversed"`
	DebtRepaid  bySourceResponse `json:"debtRepaid"`
	Outstanding struct {
		bySourceResponse
		Debt string `json:"debt"`
	} `json:"outstanding"`
	DeferredRevenue []deferredRevenueResponse `json:"deferredRevenue"`
}

type deferredRevenueResponse struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"` // minor units, as prices are
	Credits  string `json:"credits"`
}

func toBySource(s domain.BySource) bySourceResponse {
	return bySourceResponse{Paid: s.Paid.String(), Bonus: s.Bonus.String()}
}

func toByOrigin(o domain.ByOrigin) byOriginResponse {
	return byOriginResponse{Purchase: o.Purchase.String(), Manual: o.Manual.String()}
}

func toSummaryResponse(s domain.Summary) summaryResponse {
	var out summaryResponse
	out.From, out.To = formatTime(s.Window.From()), formatTime(s.Window.To())
	out.Granted.Paid, out.Granted.Bonus = toByOrigin(s.Granted.Paid), toByOrigin(s.Granted.Bonus)
	out.Consumed, out.Expired = toBySource(s.Consumed), toBySource(s.Expired)
	out.Refunded.bySourceResponse = toBySource(s.Refunded.BySource)
	out.Refunded.Debt, out.Refunded.Absorbed = s.Refunded.Debt.String(), s.Refunded.Absorbed.String()
	out.Reversed.Returned, out.Reversed.TakenBack = toBySource(s.Reversed.Returned), toBySource(s.Reversed.TakenBack)
	out.DebtRepaid = toBySource(s.DebtRepaid)
	out.Outstanding.bySourceResponse = toBySource(s.Outstanding.BySource)
	out.Outstanding.Debt = s.Outstanding.Debt.String()
	out.DeferredRevenue = make([]deferredRevenueResponse, len(s.DeferredRevenue))
	for i, d := range s.DeferredRevenue {
		out.DeferredRevenue[i] = deferredRevenueResponse{Currency: d.Currency.String(), Amount: d.Amount.String(), Credits: d.Credits.String()}
	}
	return out
}

func (h *reportHandlers) summary(c *gin.Context) {
	w, err := parseReportWindow(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	s, err := h.reports.Summary(c.Request.Context(), principal(c).Tenant, w)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toSummaryResponse(s))
}

// parseReportWindow reads the required from and to. Both are needed: a
// default (the last month? since the first transaction?) would be a guess
// finance could misread, and asking costs a client nothing.
func parseReportWindow(c *gin.Context) (domain.ReportWindow, error) {
	var fe fieldErrors
	from, fromOK := parseReportBound(&fe, c, "from")
	to, toOK := parseReportBound(&fe, c, "to")
	if !fromOK || !toOK {
		return domain.ReportWindow{}, fe.err()
	}
	w, err := domain.NewReportWindow(from, to)
	if err != nil {
		fe.add("to", err) // the bounds are each fine: it is the window they make
		return domain.ReportWindow{}, fe.err()
	}
	return w, nil
}

const rfc3339Example = "2030-01-02T15:04:05Z"

func parseReportBound(fe *fieldErrors, c *gin.Context, name string) (time.Time, bool) {
	values := c.QueryArray(name)
	switch {
	case len(values) == 0:
		fe.addf(name, "is required: an RFC 3339 date-time such as %s", rfc3339Example)
		return time.Time{}, false
	case len(values) > 1:
		fe.addf(name, "must be given once")
		return time.Time{}, false
	}
	s := values[0]
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		msg := fmt.Sprintf("must be an RFC 3339 date-time such as %s", rfc3339Example)
		if strings.Contains(s, " ") {
			// A query decodes '+' as a space: the offset's sign was lost.
			msg += "; a '+' in a query must be sent as %2B"
		}
		fe.addf(name, "%s", msg)
		return time.Time{}, false
	}
	if err := domain.CheckReportBound(t); err != nil {
		fe.add(name, err)
		return time.Time{}, false
	}
	return t, true
}
