package application

import "context"

// Verifier checks that every cached balance equals what the postings say.
type Verifier struct{ auditor Auditor }

// NewVerifier builds the verify use case.
func NewVerifier(auditor Auditor) *Verifier { return &Verifier{auditor: auditor} }

// Verify audits the whole ledger. A report with drifts is not an error: the
// caller decides how loudly to fail.
func (v *Verifier) Verify(ctx context.Context) (AuditReport, error) { return v.auditor.Audit(ctx) }
