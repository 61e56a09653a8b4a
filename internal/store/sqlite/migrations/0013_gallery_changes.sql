-- 0013: the gallery outbox. Every change that must reach the 1:N gallery
-- shards (a deduplication template stored; a person erased, merged, or
-- whose consents changed) writes a row here in its own transaction; a
-- relay publishes the rows in seq order to NATS JetStream (Msg-Id = seq)
-- and deletes them. Ids only: no template, no name.
CREATE TABLE gallery_changes (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	op        TEXT NOT NULL,
	modality  TEXT NOT NULL DEFAULT '',
	person_id TEXT NOT NULL,
	ref       TEXT NOT NULL DEFAULT '',
	at        INTEGER NOT NULL
);
