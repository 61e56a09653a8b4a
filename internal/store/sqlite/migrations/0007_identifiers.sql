-- 0007: identifiers other systems (an EMR, a laboratory) gave a person, for
-- cross-referencing (FHIR, IHE PIXm). The value is sealed under the person's
-- identity key; lookup is a keyed digest of (system, value). Erasing the
-- person deletes the rows.
CREATE TABLE person_identifiers (
    system      TEXT NOT NULL,
    lookup      BLOB NOT NULL,
    person_id   TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    operator_id TEXT NOT NULL,
    site        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (system, lookup)
);
CREATE INDEX person_identifiers_person ON person_identifiers(person_id, at);
