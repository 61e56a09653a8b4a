-- 0015: the sequence of additions to the 1:N galleries, per modality
-- (store.DedupSequence). A deduplication template takes the next number of
-- its modality when it is stored, and again when it counts anew after a
-- consent change; an enrolment compares 1:1 the templates numbered after
-- the point its 1:N search saw. Rows stored before this migration are 0:
-- searched by every search since. The counter is a row, updated in the
-- adding transaction: a SEQUENCE hands out numbers before their commits.
-- Ids and numbers only.
ALTER TABLE biometrics ADD COLUMN IF NOT EXISTS dedup_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS biometrics_dedup_seq ON biometrics(category, dedup_seq) WHERE dedup_seq > 0;
CREATE TABLE IF NOT EXISTS dedup_points (
	modality TEXT PRIMARY KEY,
	seq      BIGINT NOT NULL
);
