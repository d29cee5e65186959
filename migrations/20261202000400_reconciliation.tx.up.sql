-- Reconciliation runs: each lists the gateway's payments created in
-- [window_start, window_end) and syncs the orders that disagree with them.
-- A run is global (payments are listed per store); its findings each
-- belong to the tenant whose order they are about, and a tenant is only
-- ever shown its own.
CREATE TABLE reconciliation_runs (
    id               uuid PRIMARY KEY,
    started_at       timestamptz NOT NULL,
    finished_at      timestamptz NOT NULL,
    window_start     timestamptz NOT NULL,
    window_end       timestamptz NOT NULL CONSTRAINT reconciliation_runs_window CHECK (window_end > window_start),
    payments_seen    integer NOT NULL CONSTRAINT reconciliation_runs_seen_not_negative CHECK (payments_seen >= 0),
    unknown_payments integer NOT NULL CONSTRAINT reconciliation_runs_unknown_within_seen CHECK (unknown_payments BETWEEN 0 AND payments_seen),
    -- why the run stopped before the end of its window; NULL when it went through
    error            text
);

CREATE TABLE reconciliation_findings (
    run_id         uuid NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
    payment_id     text COLLATE "C" NOT NULL,
    tenant_id      uuid NOT NULL,
    status_before  text NOT NULL,
    status_after   text NOT NULL,
    payment_status text NOT NULL,
    -- NULL when the sync succeeded; else its kind (application.FindingError) and the failure in full
    error_kind     text CONSTRAINT reconciliation_findings_error_kind_known CHECK (error_kind IN
        ('unavailable', 'gateway_refused', 'cancel_failed', 'internal')),
    error          text,
    found_at       timestamptz NOT NULL,
    PRIMARY KEY (run_id, payment_id),
    CONSTRAINT reconciliation_findings_error_has_kind CHECK ((error_kind IS NULL) = (error IS NULL))
);
CREATE INDEX reconciliation_findings_by_tenant ON reconciliation_findings (tenant_id, found_at DESC);
