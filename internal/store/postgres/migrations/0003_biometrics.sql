-- 0003: biometric references (templates sealed under the person's category
-- key; face photos likewise), possible-duplicate cases, and merged aliases.
CREATE TABLE biometrics (
    reference_id    TEXT PRIMARY KEY,
    person_id       TEXT NOT NULL,
    category        TEXT NOT NULL,
    position        TEXT NOT NULL,
    format          TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    quality         INTEGER NOT NULL DEFAULT 0,
    template_sealed BYTEA NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX biometrics_person ON biometrics(person_id, category);
CREATE INDEX biometrics_category ON biometrics(category, reference_id);

CREATE TABLE cases (
    id         TEXT PRIMARY KEY,
    status     TEXT NOT NULL,
    person_a   TEXT NOT NULL,
    person_b   TEXT NOT NULL,
    score      DOUBLE PRECISION NOT NULL,
    modalities TEXT NOT NULL DEFAULT '',
    decision   TEXT NOT NULL DEFAULT '',
    note       TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX cases_status ON cases(status, created_at);
-- At most one open case per pair (a partial unique index).
CREATE UNIQUE INDEX cases_open_pair ON cases(person_a, person_b) WHERE status = 'open';

ALTER TABLE persons ADD COLUMN alias_of TEXT NOT NULL DEFAULT '';
