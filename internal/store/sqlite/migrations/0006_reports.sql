-- 0006: programme reports. An area registry (code, name, parent) with target
-- populations per age band and sex, and the statistics projection: the few
-- unsealed fields aggregate reports group by (area, birth year, sex, site,
-- operator, registration time), one row per registered person, deleted with
-- the person on erasure. Nothing here names anyone.
CREATE TABLE areas (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_code TEXT NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL
);
CREATE INDEX areas_parent ON areas(parent_code);

CREATE TABLE area_targets (
    area_code TEXT NOT NULL,
    age_band  TEXT NOT NULL,
    sex       TEXT NOT NULL,
    target    INTEGER NOT NULL,
    PRIMARY KEY (area_code, age_band, sex)
);

CREATE TABLE person_stats (
    person_id     TEXT PRIMARY KEY,
    area_code     TEXT NOT NULL,
    birth_year    INTEGER NOT NULL DEFAULT 0,
    sex           TEXT NOT NULL DEFAULT 'unknown',
    site          TEXT NOT NULL DEFAULT '',
    operator_id   TEXT NOT NULL DEFAULT '',
    registered_at INTEGER NOT NULL
);
CREATE INDEX person_stats_registered ON person_stats(registered_at);

-- People registered before this migration: their birth year and sex are
-- sealed, so they count with an unknown age band and sex.
INSERT INTO person_stats(person_id, area_code, site, registered_at)
    SELECT id, area_code, site, created_at FROM persons WHERE status = 'active' AND alias_of = '';

-- Exclusion events: a capture too poor to enrol, a verification with no
-- match or against no template. Site, modality, kind and time only: no
-- person, so nothing here needs erasing.
CREATE TABLE exclusion_events (
    site     TEXT NOT NULL,
    category TEXT NOT NULL,
    kind     TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX exclusion_events_at ON exclusion_events(at);
