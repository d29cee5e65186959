package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// reconciliationHandlers show reconciliation runs, each with only the
// calling tenant's findings.
type reconciliationHandlers struct {
	log *application.ReconciliationLog
}

type reconciliationRunResponse struct {
	ID              string                          `json:"id"`
	StartedAt       string                          `json:"startedAt"`
	FinishedAt      string                          `json:"finishedAt"`
	WindowStart     string                          `json:"windowStart"`
	WindowEnd       string                          `json:"windowEnd"`
	PaymentsSeen    int                             `json:"paymentsSeen"`
	UnknownPayments int                             `json:"unknownPayments"`
	Complete        bool                            `json:"complete"`
	Findings        []reconciliationFindingResponse `json:"findings"`
}

// reconciliationFindingResponse names a failed sync by its kind only: the
// full error is for operators (logs, creditd reconcile), and may name
// creditd's infrastructure.
type reconciliationFindingResponse struct {
	PaymentID         string  `json:"paymentId"`
	OrderStatusBefore string  `json:"orderStatusBefore"`
	OrderStatusAfter  string  `json:"orderStatusAfter"`
	PaymentStatus     string  `json:"paymentStatus"`
	Error             *string `json:"error"`
	FoundAt           string  `json:"foundAt"`
}

type reconciliationPageResponse struct {
	Items      []reconciliationRunResponse `json:"items"`
	NextCursor *string                     `json:"nextCursor"`
}

func toReconciliationRunResponse(r application.ReconciliationReport) reconciliationRunResponse {
	out := reconciliationRunResponse{ID: r.ID.String(), StartedAt: formatTime(r.StartedAt), FinishedAt: formatTime(r.FinishedAt),
		WindowStart: formatTime(r.WindowStart), WindowEnd: formatTime(r.WindowEnd), PaymentsSeen: r.PaymentsSeen,
		UnknownPayments: r.UnknownPayments, Complete: r.Error == "", Findings: make([]reconciliationFindingResponse, len(r.Findings))}
	for i, f := range r.Findings {
		out.Findings[i] = reconciliationFindingResponse{PaymentID: f.Payment.String(), OrderStatusBefore: f.StatusBefore.String(),
			OrderStatusAfter: f.StatusAfter.String(), PaymentStatus: string(f.PaymentStatus), FoundAt: formatTime(f.FoundAt)}
		if f.ErrorKind != "" {
			kind := string(f.ErrorKind)
			out.Findings[i].Error = &kind
		}
	}
	return out
}

func (h *reconciliationHandlers) list(c *gin.Context) {
	var fe fieldErrors
	limit := fe.pageSize(c.GetQuery("limit"))
	var before *domain.ReconciliationID
	if s, ok := c.GetQuery("cursor"); ok {
		if id, err := domain.ParseReconciliationID(s); err != nil {
			fe.addf("cursor", "is not a cursor this API returned")
		} else {
			before = &id
		}
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	page, err := h.log.List(c.Request.Context(), principal(c).Tenant, limit, before)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := reconciliationPageResponse{Items: make([]reconciliationRunResponse, len(page.Items))}
	for i, r := range page.Items {
		out.Items[i] = toReconciliationRunResponse(r)
	}
	if page.Next != nil {
		s := page.Next.String()
		out.NextCursor = &s
	}
	writeJSON(c, http.StatusOK, out)
}
