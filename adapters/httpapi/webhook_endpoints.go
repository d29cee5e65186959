package httpapi

import (
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/creditd/creditd/application"
	"github.com/creditd/creditd/domain"
)

// The webhook endpoints' routes: a tenant registers where its events go
// (events:write), reads its endpoints and their delivery log (events:read),
// and redelivers one. Nothing here moves credits, so no request takes an
// Idempotency-Key: a retried create registers a second endpoint, which the
// list shows and a DELETE removes.
type webhookEndpointHandlers struct {
	endpoints *application.WebhookEndpoints
}

type createWebhookEndpointRequest struct {
	URL string `json:"url"`
	// Events absent or empty: every type, those added later included.
	Events []string `json:"events,omitempty"`
}

func (r createWebhookEndpointRequest) toDomain() (string, []domain.EventType, error) {
	var fe fieldErrors
	if r.URL == "" {
		fe.addf("url", "is required")
	}
	types := make([]domain.EventType, 0, len(r.Events))
	if len(r.Events) > len(domain.EventTypes) {
		fe.addf("events", "names at most %d types", len(domain.EventTypes))
	} else {
		for i, s := range r.Events {
			t, err := domain.EventTypeFromString(s)
			if err != nil {
				fe.add(jsonIndex("events", i), err)
				continue
			}
			types = append(types, t)
		}
	}
	return r.URL, types, fe.err()
}

// jsonIndex names a member of an array field ("events[2]").
func jsonIndex(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

type webhookEndpointResponse struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"` // empty: every type
	CreatedAt string   `json:"createdAt"`
	// Secret is in the create response only.
	Secret string `json:"secret,omitempty"`
}

func toWebhookEndpointResponse(e *domain.WebhookEndpoint) webhookEndpointResponse {
	events := make([]string, 0, len(e.Events()))
	for _, t := range e.Events() {
		events = append(events, t.String())
	}
	return webhookEndpointResponse{ID: e.ID().String(), URL: e.URL(), Events: events, CreatedAt: formatTime(e.CreatedAt())}
}

type webhookEndpointListResponse struct {
	Items []webhookEndpointResponse `json:"items"`
}

func (h *webhookEndpointHandlers) create(c *gin.Context) {
	var req createWebhookEndpointRequest
	if err := bindJSON(c, &req); err != nil {
		_ = c.Error(err)
		return
	}
	url, events, err := req.toDomain()
	if err != nil {
		_ = c.Error(err)
		return
	}
	e, err := h.endpoints.Create(c.Request.Context(), principal(c).Tenant, url, events)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := toWebhookEndpointResponse(e)
	out.Secret = e.Secret() // shown this once
	writeJSON(c, http.StatusCreated, out)
}

func (h *webhookEndpointHandlers) list(c *gin.Context) {
	endpoints, err := h.endpoints.List(c.Request.Context(), principal(c).Tenant)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := webhookEndpointListResponse{Items: make([]webhookEndpointResponse, 0, len(endpoints))}
	for _, e := range endpoints {
		out.Items = append(out.Items, toWebhookEndpointResponse(e))
	}
	writeJSON(c, http.StatusOK, out)
}

func parseEndpointParam(fe *fieldErrors, c *gin.Context) domain.WebhookEndpointID {
	id, err := domain.ParseWebhookEndpointID(c.Param("endpointId"))
	if err != nil {
		fe.add("endpointId", err)
	}
	return id
}

func (h *webhookEndpointHandlers) get(c *gin.Context) {
	var fe fieldErrors
	id := parseEndpointParam(&fe, c)
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	e, err := h.endpoints.Get(c.Request.Context(), principal(c).Tenant, id)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, toWebhookEndpointResponse(e))
}

func (h *webhookEndpointHandlers) delete(c *gin.Context) {
	var fe fieldErrors
	id := parseEndpointParam(&fe, c)
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	if err := h.endpoints.Delete(c.Request.Context(), principal(c).Tenant, id); err != nil {
		_ = c.Error(err)
		return
	}
	c.Status(http.StatusNoContent)
}

type deliveryResponse struct {
	// ID is the event's id (the webhook-id header): a delivery's id within its endpoint.
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	AccountID     string          `json:"accountId"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	LastStatus    *int            `json:"lastStatus"`
	LastError     *string         `json:"lastError"`
	LastAttemptAt *string         `json:"lastAttemptAt"`
	NextAttemptAt *string         `json:"nextAttemptAt"` // pending only
	DeliveredAt   *string         `json:"deliveredAt"`
	RetryFrom     string          `json:"retryFrom"`
	OccurredAt    string          `json:"occurredAt"`
	Data          json.RawMessage `json:"data"`
}

func toDeliveryResponse(d application.Delivery) deliveryResponse {
	out := deliveryResponse{ID: domain.EventID(d.EventID).String(), Type: d.Type, AccountID: d.Account.String(), Status: d.Status.String(),
		Attempts: d.Attempts, LastAttemptAt: optionalTime(d.LastAttemptAt), DeliveredAt: optionalTime(d.DeliveredAt),
		RetryFrom: formatTime(d.RetryFrom), OccurredAt: formatTime(d.OccurredAt), Data: json.RawMessage(d.Data)}
	if d.LastStatus != 0 {
		s := d.LastStatus
		out.LastStatus = &s
	}
	if d.LastError != "" {
		e := d.LastError
		out.LastError = &e
	}
	if d.Status == domain.DeliveryPending {
		out.NextAttemptAt = optionalTime(&d.NextAttemptAt)
	}
	return out
}

type deliveriesPageResponse struct {
	Items      []deliveryResponse `json:"items"`
	NextCursor *string            `json:"nextCursor"` // null on the last page
}

// cursorDeliveries is the delivery log's listing kind.
const cursorDeliveries = "deliveries"

func (h *webhookEndpointHandlers) deliveries(c *gin.Context) {
	var fe fieldErrors
	tenant := principal(c).Tenant
	f := application.DeliveryFilter{Tenant: tenant, Endpoint: parseEndpointParam(&fe, c)}
	limit := fe.pageSize(c.GetQuery("limit"))
	statusName := ""
	switch values := c.QueryArray("status"); {
	case len(values) > 1:
		fe.addf("status", "must be given once")
	case len(values) == 1:
		st, err := domain.DeliveryStatusFromString(values[0])
		if err != nil {
			fe.add("status", err)
		} else {
			f.Status, statusName = &st, st.String()
		}
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	scope := cursorScope(tenant.String(), f.Endpoint.String(), statusName)
	if s, ok := c.GetQuery("cursor"); ok {
		pos, err := openCursor(cursorDeliveries, scope, s)
		if err != nil || len(pos) != 8 {
			_ = c.Error(errInvalidCursor)
			return
		}
		seq := int64(binary.BigEndian.Uint64(pos))
		f.BeforeSeq = &seq
	}
	// One more than the page, to know whether another follows.
	list, err := h.endpoints.Deliveries(c.Request.Context(), f, limit+1)
	if err != nil {
		_ = c.Error(err)
		return
	}
	out := deliveriesPageResponse{Items: make([]deliveryResponse, 0, min(len(list), limit))}
	for i, d := range list {
		if i == limit {
			s := sealCursor(cursorDeliveries, scope, binary.BigEndian.AppendUint64(nil, uint64(list[i-1].Seq)))
			out.NextCursor = &s
			break
		}
		out.Items = append(out.Items, toDeliveryResponse(d))
	}
	writeJSON(c, http.StatusOK, out)
}

func (h *webhookEndpointHandlers) redeliver(c *gin.Context) {
	var fe fieldErrors
	endpoint := parseEndpointParam(&fe, c)
	event, err := uuid.Parse(c.Param("deliveryId"))
	if err != nil || len(c.Param("deliveryId")) != 36 {
		fe.addf("deliveryId", "is not a UUID")
	}
	if err := fe.err(); err != nil {
		_ = c.Error(err)
		return
	}
	d, err := h.endpoints.Redeliver(c.Request.Context(), principal(c).Tenant, endpoint, event)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusAccepted, toDeliveryResponse(d))
}
