-- 0002: biobank specimens (category dna: custody only, never a genotype).
-- Everything about a specimen is sealed under the person's dna key.
CREATE TABLE specimens (
    id         TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX specimens_person ON specimens(person_id, created_at);

CREATE TABLE specimen_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    specimen_id TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX specimen_events_specimen ON specimen_events(specimen_id, seq);
