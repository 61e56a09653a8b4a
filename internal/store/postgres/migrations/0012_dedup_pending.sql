-- 0012: deduplication searches that did not finish (a gallery shard did not
-- answer). A row is written in the transaction that stores the template
-- whose search was partial and deleted in the transaction that opens the
-- cases of the completed search. It goes with its biometric reference (an
-- erasure deletes both). tried_at 0 = never retried; times in ms.
CREATE TABLE dedup_pending (
    reference_id TEXT PRIMARY KEY REFERENCES biometrics(reference_id) ON DELETE CASCADE,
    person_id    TEXT NOT NULL,
    modality     TEXT NOT NULL,
    since        BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    tried_at     BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dedup_pending_order ON dedup_pending(tried_at, since);
CREATE INDEX dedup_pending_person ON dedup_pending(person_id);
