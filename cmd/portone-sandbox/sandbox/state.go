package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
)

// stateVersion names the layout SaveState writes.
const stateVersion = 1

type savedState struct {
	Version                 int                        `json:"version"`
	Seq                     int                        `json:"seq"`
	Payments                []savedPayment             `json:"payments"`
	PreRegistered           map[string]PreRegistration `json:"preRegistered"`
	PreRegistrationEnforced bool                       `json:"preRegistrationEnforced"`
}

type savedPayment struct {
	Payment
	Seq int
}

// SaveState writes the payments and pre-registrations as JSON, for
// LoadState in a later run. Faults, checkouts, queued webhooks and the
// request log are not kept.
func (s *Sandbox) SaveState(w io.Writer) error {
	s.mu.Lock()
	st := savedState{Version: stateVersion, Seq: s.seq, PreRegistered: maps.Clone(s.preRegistered), PreRegistrationEnforced: s.enforcePreReg}
	for _, p := range s.payments {
		st.Payments = append(st.Payments, savedPayment{p.clone(), p.seq})
	}
	s.mu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(st)
}

// LoadState replaces the payments and pre-registrations by those SaveState wrote.
func (s *Sandbox) LoadState(r io.Reader) error {
	var st savedState
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return fmt.Errorf("sandbox: read state: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("sandbox: state version %d, this sandbox reads %d", st.Version, stateVersion)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
	s.seq = st.Seq
	for _, sp := range st.Payments {
		p := sp.Payment.clone()
		p.seq = sp.Seq
		if p.ImpUID == "" { // saved before payments had one
			p.ImpUID = fmt.Sprintf("imp_%012d", p.seq)
		}
		s.payments[p.ID] = &p
	}
	if st.PreRegistered != nil {
		s.preRegistered = st.PreRegistered
	}
	s.enforcePreReg = st.PreRegistrationEnforced
	return nil
}
