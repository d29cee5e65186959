package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"
)

// PaymentRecord is a payment as the /sandbox/ page shows it: exactly what
// GET /payments/{id} renders (its webhooks list included), and its history.
type PaymentRecord struct {
	Payment json.RawMessage `json:"payment"`
	History []StatusChange  `json:"history"`
	ImpUID  string          `json:"impUid"` // its V1 id, which V2's shape has not
}

// Payments lists every payment, newest first.
func (s *Sandbox) Payments() []PaymentRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := make([]*Payment, 0, len(s.payments))
	for _, p := range s.payments {
		all = append(all, p)
	}
	slices.SortFunc(all, func(a, b *Payment) int { return b.seq - a.seq })
	out := make([]PaymentRecord, 0, len(all))
	for _, p := range all {
		out = append(out, PaymentRecord{Payment: mustJSON(s.render(p)), History: slices.Clone(p.History), ImpUID: p.ImpUID})
	}
	return out
}

// Faults is the body of PUT /sandbox/faults; a part left out is unchanged.
type Faults struct {
	API *struct {
		FailNext int    `json:"failNext"`
		Status   int    `json:"status"`  // default 500
		Latency  string `json:"latency"` // a Go duration, e.g. "250ms"; "0" ends it
	} `json:"api"`
	Webhooks *struct {
		Drop      int   `json:"drop"`
		Duplicate int   `json:"duplicate"`
		Hold      *bool `json:"hold"`
	} `json:"webhooks"`
}

// SetFaults applies f, as PUT /sandbox/faults does.
func (s *Sandbox) SetFaults(f Faults) error {
	if a := f.API; a != nil {
		status := a.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		if status < 400 || status > 599 || a.FailNext < 0 {
			return errors.New("api.status is 400 to 599 and api.failNext not negative")
		}
		var latency time.Duration
		if a.Latency != "" {
			d, err := time.ParseDuration(a.Latency)
			if err != nil || d < 0 {
				return errors.New(`api.latency is a duration like "250ms"`)
			}
			latency = d
		}
		s.FailNext(a.FailNext, status)
		if a.Latency != "" {
			s.Delay(latency)
		}
	}
	if wh := f.Webhooks; wh != nil {
		if wh.Drop < 0 || wh.Duplicate < 0 {
			return errors.New("webhooks.drop and webhooks.duplicate are not negative")
		}
		s.DropWebhooks(wh.Drop)
		s.DuplicateWebhooks(wh.Duplicate)
		if wh.Hold != nil {
			s.HoldWebhooks(*wh.Hold)
		}
	}
	return nil
}

// FaultState is what faults are in force, as GET /sandbox/faults shows it.
type FaultState struct {
	API struct {
		FailNext  int    `json:"failNext"`  // requests still to fail
		Latency   string `json:"latency"`   // every answer's delay, "0s" for none
		DelayNext int    `json:"delayNext"` // answers still to delay once
	} `json:"api"`
	Webhooks struct {
		Drop      int  `json:"drop"`      // deliveries still to drop
		Duplicate int  `json:"duplicate"` // extra sends of each event
		Hold      bool `json:"hold"`
		Held      int  `json:"held"` // events waiting for a release
	} `json:"webhooks"`
}

// Faults reports the faults in force.
func (s *Sandbox) Faults() FaultState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f FaultState
	f.API.FailNext, f.API.Latency, f.API.DelayNext = len(s.failures), s.delay.String(), len(s.delayNext)
	f.Webhooks.Drop, f.Webhooks.Duplicate, f.Webhooks.Hold = s.webhookFaults.drop, s.webhookFaults.duplicate, s.webhookFaults.hold
	f.Webhooks.Held = len(s.held)
	return f
}

// PreRegistrationEnforced says whether PortOne's check of a payment against
// its pre-registration is on.
func (s *Sandbox) PreRegistrationEnforced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enforcePreReg
}

func (s *Sandbox) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sandbox/faults", func(w http.ResponseWriter, _ *http.Request) {
		encodeJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("GET /sandbox/pre-registration", func(w http.ResponseWriter, _ *http.Request) {
		encodeJSON(w, http.StatusOK, map[string]bool{"enforced": s.PreRegistrationEnforced()})
	})
	mux.HandleFunc("GET /sandbox/payments", func(w http.ResponseWriter, _ *http.Request) {
		encodeJSON(w, http.StatusOK, map[string]any{"payments": s.Payments(), "droppedWebhooks": s.DroppedWebhooks()})
	})
	mux.HandleFunc("POST /sandbox/payments/{id}/deposit", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Deposit(r.PathValue("id"))
		answer(w, err, func() any { return s.render(&p) })
	})
	mux.HandleFunc("POST /sandbox/payments/{id}/console-cancel", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Amount int64  `json:"amount"`
			Reason string `json:"reason"`
		}
		if !readControl(w, r, &req) {
			return
		}
		if req.Amount < 0 {
			controlError(w, http.StatusBadRequest, errors.New("amount is positive, or 0 (or none) for what is left"))
			return
		}
		if req.Reason == "" {
			req.Reason = "콘솔에서 취소"
		}
		c, err := s.CancelFromConsoleFor(r.PathValue("id"), req.Amount, req.Reason)
		answer(w, err, func() any { return map[string]any{"cancellation": renderCancellation(c)} })
	})
	mux.HandleFunc("POST /sandbox/payments/{id}/webhooks/resend", func(w http.ResponseWriter, r *http.Request) {
		answer(w, s.ResendWebhook(r.PathValue("id")), func() any { return struct{}{} })
	})
	mux.HandleFunc("PUT /sandbox/pre-registration", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Enforced *bool `json:"enforced"`
		}
		if !readControl(w, r, &req) {
			return
		}
		if req.Enforced == nil {
			controlError(w, http.StatusBadRequest, errors.New("the body is {\"enforced\": bool}"))
			return
		}
		s.EnforcePreRegistration(*req.Enforced)
		encodeJSON(w, http.StatusOK, map[string]bool{"enforced": *req.Enforced})
	})
	mux.HandleFunc("PUT /sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !readControl(w, r, &f) {
			return
		}
		if err := s.SetFaults(f); err != nil {
			controlError(w, http.StatusBadRequest, err)
			return
		}
		encodeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("DELETE /sandbox/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.Heal()
		encodeJSON(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /sandbox/webhooks/release", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Order string `json:"order"`
		}
		if !readControl(w, r, &req) {
			return
		}
		if req.Order != "" && req.Order != "sent" && req.Order != "reverse" {
			controlError(w, http.StatusBadRequest, errors.New(`order is "sent" or "reverse"`))
			return
		}
		encodeJSON(w, http.StatusOK, map[string]int{"released": s.ReleaseWebhooks(req.Order == "reverse")})
	})
	mux.HandleFunc("POST /sandbox/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		encodeJSON(w, http.StatusOK, struct{}{})
	})
}

// readControl decodes a control's JSON body (none is an empty object).
func readControl(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if len(raw) == 0 {
		return true
	}
	if err := json.Unmarshal(raw, v); err != nil {
		controlError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func answer(w http.ResponseWriter, err error, body func() any) {
	if err != nil {
		controlError(w, http.StatusConflict, err)
		return
	}
	encodeJSON(w, http.StatusOK, body())
}

// controlError is a control's refusal, in PortOne's error shape.
func controlError(w http.ResponseWriter, status int, err error) {
	typ := "INVALID_REQUEST"
	if status == http.StatusConflict {
		typ = "CONFLICT"
	}
	encodeJSON(w, status, errorBody{Type: typ, Message: err.Error()})
}
