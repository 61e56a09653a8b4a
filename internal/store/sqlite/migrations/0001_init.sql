-- 0001: sites, operators, households, persons, consents, exams, audit log.
-- Personal data lives only in *_sealed columns (AES-GCM under per-person keys).
CREATE TABLE sites (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    area_code  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE operators (
    id         TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    site       TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL DEFAULT '',
    key_mac    BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE households (
    id             TEXT PRIMARY KEY,
    area_code      TEXT NOT NULL,
    head_id        TEXT NOT NULL DEFAULT '',
    address_sealed BLOB,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE persons (
    id              TEXT PRIMARY KEY,
    status          TEXT NOT NULL,
    area_code       TEXT NOT NULL DEFAULT '',
    household_id    TEXT NOT NULL DEFAULT '',
    relationship    TEXT NOT NULL DEFAULT '',
    guardian_id     TEXT NOT NULL DEFAULT '',
    site            TEXT NOT NULL DEFAULT '',
    version         INTEGER NOT NULL,
    identity_sealed BLOB,
    lookup_index    BLOB,
    portal_code_mac BLOB,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX persons_household ON persons(household_id);
CREATE INDEX persons_lookup ON persons(lookup_index);

CREATE TABLE person_versions (
    person_id       TEXT NOT NULL,
    version         INTEGER NOT NULL,
    identity_sealed BLOB,
    household_id    TEXT NOT NULL DEFAULT '',
    relationship    TEXT NOT NULL DEFAULT '',
    area_code       TEXT NOT NULL DEFAULT '',
    changed_at      INTEGER NOT NULL,
    changed_by      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (person_id, version)
);

CREATE TABLE consents (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id      TEXT NOT NULL,
    category       TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    decision       TEXT NOT NULL,
    method         TEXT NOT NULL,
    notice_version TEXT NOT NULL,
    language       TEXT NOT NULL,
    operator_id    TEXT NOT NULL DEFAULT '',
    site           TEXT NOT NULL DEFAULT '',
    guardian_id    TEXT NOT NULL DEFAULT '',
    at             INTEGER NOT NULL
);
CREATE INDEX consents_person ON consents(person_id, seq);

CREATE TABLE exams (
    id                TEXT PRIMARY KEY,
    person_id         TEXT NOT NULL,
    site              TEXT NOT NULL DEFAULT '',
    operator_id       TEXT NOT NULL DEFAULT '',
    findings_sealed   BLOB,
    blood_type_sealed BLOB,
    at                INTEGER NOT NULL
);
CREATE INDEX exams_person ON exams(person_id, at);

-- The audit log: append-only, RFC 6962 leaves. idx starts at 0.
CREATE TABLE audit_events (
    idx       INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL DEFAULT '',
    data      BLOB NOT NULL,
    leaf_hash BLOB NOT NULL
);
CREATE INDEX audit_events_person ON audit_events(person_id, idx);

CREATE TABLE audit_checkpoints (
    size       INTEGER PRIMARY KEY,
    note       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
