-- 0004: bulk import bookkeeping: one row per imported line, written in the
-- same transaction as the person it created, so a resumed import never
-- imports a line twice and never leaves one half-written.
CREATE TABLE import_lines (
    "key"     TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    at        BIGINT NOT NULL
);
