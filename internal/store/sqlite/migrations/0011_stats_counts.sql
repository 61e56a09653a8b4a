-- 0011: pre-aggregated report counts. Every report reads these small tables
-- (thousands of rows) instead of grouping the whole projection, consents,
-- exams and biometrics (millions). Triggers keep them in the same
-- transaction as every write of the rows they count (registration,
-- rectification, merge and erasure through person_stats; consent answers;
-- check-ups; biometric references; exclusion events), so a count is never
-- behind its rows; `assent report rebuild-counts` recomputes them from the
-- rows. Days are whole UTC days since 1970-01-01 (time in ms / 86400000).
-- A count can reach 0 and stay as a row; readers skip zeros. Counts only:
-- no person id is kept here.
--
-- Distinct people over a period (checked up, served without a biometric)
-- are counted by person-days: each day on which a person had an exam counts
-- once, at (day, prev_day), prev_day being the person's previous exam day
-- (-1 if none); the people with an exam in the days [d1, d2) are the
-- person-days in [d1, d2) whose prev_day is before d1.
-- Rows projected before this migration are marked for re-projection: the
-- next `assent maintain` rewrites each from the sealed record, through the
-- gate (people projected before 0009 get their estimated birth date mark).
-- Every projection written from now on is current (reproject = 0).
ALTER TABLE person_stats ADD COLUMN reproject INTEGER NOT NULL DEFAULT 1;
CREATE INDEX person_stats_reproject ON person_stats(person_id) WHERE reproject <> 0;

-- The register quality report goes from erased guardians to their wards.
CREATE INDEX persons_erased ON persons(id) WHERE status = 'erased';
CREATE INDEX persons_guardian ON persons(guardian_id) WHERE guardian_id <> '';
CREATE INDEX consents_at ON consents(at);
CREATE INDEX consents_withdrawn ON consents(at) WHERE decision = 'withdrawn';
CREATE INDEX exams_at ON exams(at);
CREATE INDEX biometrics_created ON biometrics(created_at);

CREATE TABLE stats_registered (
    area_code  TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    sex        TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (area_code, birth_year, sex)
) WITHOUT ROWID;

CREATE TABLE stats_registered_days (
    day         INTEGER NOT NULL,
    area_code   TEXT NOT NULL,
    n           INTEGER NOT NULL,
    n_estimated INTEGER NOT NULL,
    PRIMARY KEY (day, area_code)
) WITHOUT ROWID;

CREATE TABLE stats_checkups (
    day        INTEGER NOT NULL,
    prev_day   INTEGER NOT NULL,
    area_code  TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    sex        TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (day, prev_day, area_code, birth_year, sex)
) WITHOUT ROWID;

-- A person counts once per modality, on the day of their earliest reference.
CREATE TABLE stats_enrolled (
    day       INTEGER NOT NULL,
    area_code TEXT NOT NULL,
    category  TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, area_code, category)
) WITHOUT ROWID;

CREATE TABLE stats_area_answers (
    day       INTEGER NOT NULL,
    area_code TEXT NOT NULL,
    category  TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    decision  TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, area_code, category, purpose, decision)
) WITHOUT ROWID;

CREATE TABLE stats_site_answers (
    day         INTEGER NOT NULL,
    site        TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    category    TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    decision    TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, site, operator_id, category, purpose, decision)
) WITHOUT ROWID;

CREATE TABLE stats_exclusions (
    day      INTEGER NOT NULL,
    site     TEXT NOT NULL,
    category TEXT NOT NULL,
    kind     TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, site, category, kind)
) WITHOUT ROWID;

-- Person-days per exam site of people who hold no biometric reference.
CREATE TABLE stats_care_no_biometrics (
    day      INTEGER NOT NULL,
    prev_day INTEGER NOT NULL,
    site     TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, prev_day, site)
) WITHOUT ROWID;

-- Steps: views whose INSTEAD OF INSERT triggers apply one change, so the
-- triggers below share them.

-- A person-day (person_id, day) appears (sign 1) or disappears (-1) among
-- the person's exams: its own (day, prev_day) and the next day's prev_day.
CREATE VIEW stats_checkup_step(person_id, day, sign) AS SELECT '', 0, 0 WHERE 0;
CREATE TRIGGER stats_checkup_step INSTEAD OF INSERT ON stats_checkup_step
BEGIN
    INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
        SELECT NEW.day, COALESCE((SELECT MAX(at) FROM exams WHERE person_id = NEW.person_id AND at < NEW.day * 86400000) / 86400000, -1),
            s.area_code, s.birth_year, s.sex, NEW.sign
        FROM person_stats s WHERE s.person_id = NEW.person_id
        ON CONFLICT(day, prev_day, area_code, birth_year, sex) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
        SELECT x.nd, x.pd, s.area_code, s.birth_year, s.sex, -NEW.sign
        FROM (SELECT (SELECT MIN(at) FROM exams WHERE person_id = NEW.person_id AND at >= (NEW.day + 1) * 86400000) / 86400000 AS nd,
                     COALESCE((SELECT MAX(at) FROM exams WHERE person_id = NEW.person_id AND at < NEW.day * 86400000) / 86400000, -1) AS pd) x
        JOIN person_stats s ON s.person_id = NEW.person_id WHERE x.nd IS NOT NULL
        ON CONFLICT(day, prev_day, area_code, birth_year, sex) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
        SELECT x.nd, NEW.day, s.area_code, s.birth_year, s.sex, NEW.sign
        FROM (SELECT (SELECT MIN(at) FROM exams WHERE person_id = NEW.person_id AND at >= (NEW.day + 1) * 86400000) / 86400000 AS nd) x
        JOIN person_stats s ON s.person_id = NEW.person_id WHERE x.nd IS NOT NULL
        ON CONFLICT(day, prev_day, area_code, birth_year, sex) DO UPDATE SET n = n + excluded.n;
END;

-- The same for a person-site-day of a person without biometrics.
CREATE VIEW stats_care_step(person_id, site, day, sign) AS SELECT '', '', 0, 0 WHERE 0;
CREATE TRIGGER stats_care_step INSTEAD OF INSERT ON stats_care_step
BEGIN
    INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
        SELECT NEW.day, COALESCE((SELECT MAX(at) FROM exams WHERE person_id = NEW.person_id AND site = NEW.site AND at < NEW.day * 86400000) / 86400000, -1),
            NEW.site, NEW.sign WHERE 1
        ON CONFLICT(day, prev_day, site) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
        SELECT x.nd, x.pd, NEW.site, -NEW.sign
        FROM (SELECT (SELECT MIN(at) FROM exams WHERE person_id = NEW.person_id AND site = NEW.site AND at >= (NEW.day + 1) * 86400000) / 86400000 AS nd,
                     COALESCE((SELECT MAX(at) FROM exams WHERE person_id = NEW.person_id AND site = NEW.site AND at < NEW.day * 86400000) / 86400000, -1) AS pd) x
        WHERE x.nd IS NOT NULL
        ON CONFLICT(day, prev_day, site) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
        SELECT x.nd, NEW.day, NEW.site, NEW.sign
        FROM (SELECT (SELECT MIN(at) FROM exams WHERE person_id = NEW.person_id AND site = NEW.site AND at >= (NEW.day + 1) * 86400000) / 86400000 AS nd) x
        WHERE x.nd IS NOT NULL
        ON CONFLICT(day, prev_day, site) DO UPDATE SET n = n + excluded.n;
END;

-- Every care person-site-day of a person counts (1) or stops counting (-1):
-- the person lost their last biometric reference or got their first.
CREATE VIEW stats_care_person_step(person_id, sign) AS SELECT '', 0 WHERE 0;
CREATE TRIGGER stats_care_person_step INSTEAD OF INSERT ON stats_care_person_step
BEGIN
    INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
        SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = NEW.person_id AND e.site = d.site AND e.at < d.day * 86400000) / 86400000, -1),
            d.site, NEW.sign
        FROM (SELECT DISTINCT site, at / 86400000 AS day FROM exams WHERE person_id = NEW.person_id) d WHERE 1
        ON CONFLICT(day, prev_day, site) DO UPDATE SET n = n + excluded.n;
END;

-- A person's projection row appears (1) or disappears (-1): everything
-- counted through the projection moves with it.
CREATE VIEW stats_person_step(person_id, area_code, birth_year, sex, registered_at, estimated, sign) AS SELECT '', '', 0, '', 0, 0, 0 WHERE 0;
CREATE TRIGGER stats_person_step INSTEAD OF INSERT ON stats_person_step
BEGIN
    INSERT INTO stats_registered(area_code, birth_year, sex, n) VALUES (NEW.area_code, NEW.birth_year, NEW.sex, NEW.sign)
        ON CONFLICT(area_code, birth_year, sex) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_registered_days(day, area_code, n, n_estimated)
        VALUES (NEW.registered_at / 86400000, NEW.area_code, NEW.sign, CASE WHEN NEW.estimated THEN NEW.sign ELSE 0 END)
        ON CONFLICT(day, area_code) DO UPDATE SET n = n + excluded.n, n_estimated = n_estimated + excluded.n_estimated;
    INSERT INTO stats_area_answers(day, area_code, category, purpose, decision, n)
        SELECT at / 86400000, NEW.area_code, category, purpose, decision, NEW.sign * COUNT(*)
        FROM consents WHERE person_id = NEW.person_id GROUP BY at / 86400000, category, purpose, decision
        ON CONFLICT(day, area_code, category, purpose, decision) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_enrolled(day, area_code, category, n)
        SELECT MIN(created_at) / 86400000, NEW.area_code, category, NEW.sign
        FROM biometrics WHERE person_id = NEW.person_id GROUP BY category
        ON CONFLICT(day, area_code, category) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
        SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = NEW.person_id AND e.at < d.day * 86400000) / 86400000, -1),
            NEW.area_code, NEW.birth_year, NEW.sex, NEW.sign
        FROM (SELECT DISTINCT at / 86400000 AS day FROM exams WHERE person_id = NEW.person_id) d WHERE 1
        ON CONFLICT(day, prev_day, area_code, birth_year, sex) DO UPDATE SET n = n + excluded.n;
END;

-- The projection.
CREATE TRIGGER stats_person_insert AFTER INSERT ON person_stats
BEGIN
    INSERT INTO stats_person_step VALUES (NEW.person_id, NEW.area_code, NEW.birth_year, NEW.sex, NEW.registered_at, NEW.birth_estimated, 1);
END;
CREATE TRIGGER stats_person_update AFTER UPDATE ON person_stats
BEGIN
    INSERT INTO stats_person_step VALUES (OLD.person_id, OLD.area_code, OLD.birth_year, OLD.sex, OLD.registered_at, OLD.birth_estimated, -1);
    INSERT INTO stats_person_step VALUES (NEW.person_id, NEW.area_code, NEW.birth_year, NEW.sex, NEW.registered_at, NEW.birth_estimated, 1);
END;
CREATE TRIGGER stats_person_delete AFTER DELETE ON person_stats
BEGIN
    INSERT INTO stats_person_step VALUES (OLD.person_id, OLD.area_code, OLD.birth_year, OLD.sex, OLD.registered_at, OLD.birth_estimated, -1);
END;

-- Consent answers (each one counts; the records stay after erasure).
CREATE TRIGGER stats_consent_insert BEFORE INSERT ON consents
BEGIN
    INSERT INTO stats_site_answers(day, site, operator_id, category, purpose, decision, n)
        VALUES (NEW.at / 86400000, NEW.site, NEW.operator_id, NEW.category, NEW.purpose, NEW.decision, 1)
        ON CONFLICT(day, site, operator_id, category, purpose, decision) DO UPDATE SET n = n + 1;
    INSERT INTO stats_area_answers(day, area_code, category, purpose, decision, n)
        SELECT NEW.at / 86400000, s.area_code, NEW.category, NEW.purpose, NEW.decision, 1 FROM person_stats s WHERE s.person_id = NEW.person_id
        ON CONFLICT(day, area_code, category, purpose, decision) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stats_consent_delete BEFORE DELETE ON consents
BEGIN
    INSERT INTO stats_site_answers(day, site, operator_id, category, purpose, decision, n)
        VALUES (OLD.at / 86400000, OLD.site, OLD.operator_id, OLD.category, OLD.purpose, OLD.decision, -1)
        ON CONFLICT(day, site, operator_id, category, purpose, decision) DO UPDATE SET n = n - 1;
    INSERT INTO stats_area_answers(day, area_code, category, purpose, decision, n)
        SELECT OLD.at / 86400000, s.area_code, OLD.category, OLD.purpose, OLD.decision, -1 FROM person_stats s WHERE s.person_id = OLD.person_id
        ON CONFLICT(day, area_code, category, purpose, decision) DO UPDATE SET n = n - 1;
END;

-- Check-ups. BEFORE triggers: the row being written is not yet there (insert)
-- or still there (delete); rows of the same statement already processed are.
CREATE TRIGGER stats_exam_insert BEFORE INSERT ON exams
WHEN NOT EXISTS (SELECT 1 FROM exams WHERE person_id = NEW.person_id AND at >= NEW.at / 86400000 * 86400000 AND at < (NEW.at / 86400000 + 1) * 86400000)
BEGIN
    INSERT INTO stats_checkup_step VALUES (NEW.person_id, NEW.at / 86400000, 1);
END;
CREATE TRIGGER stats_exam_delete BEFORE DELETE ON exams
WHEN NOT EXISTS (SELECT 1 FROM exams WHERE person_id = OLD.person_id AND id <> OLD.id AND at >= OLD.at / 86400000 * 86400000 AND at < (OLD.at / 86400000 + 1) * 86400000)
BEGIN
    INSERT INTO stats_checkup_step VALUES (OLD.person_id, OLD.at / 86400000, -1);
END;
CREATE TRIGGER stats_exam_insert_care BEFORE INSERT ON exams
WHEN NOT EXISTS (SELECT 1 FROM biometrics WHERE person_id = NEW.person_id)
    AND NOT EXISTS (SELECT 1 FROM exams WHERE person_id = NEW.person_id AND site = NEW.site AND at >= NEW.at / 86400000 * 86400000 AND at < (NEW.at / 86400000 + 1) * 86400000)
BEGIN
    INSERT INTO stats_care_step VALUES (NEW.person_id, NEW.site, NEW.at / 86400000, 1);
END;
CREATE TRIGGER stats_exam_delete_care BEFORE DELETE ON exams
WHEN NOT EXISTS (SELECT 1 FROM biometrics WHERE person_id = OLD.person_id)
    AND NOT EXISTS (SELECT 1 FROM exams WHERE person_id = OLD.person_id AND site = OLD.site AND id <> OLD.id AND at >= OLD.at / 86400000 * 86400000 AND at < (OLD.at / 86400000 + 1) * 86400000)
BEGIN
    INSERT INTO stats_care_step VALUES (OLD.person_id, OLD.site, OLD.at / 86400000, -1);
END;

-- Biometric references: the earliest per person and modality counts
-- enrolment; the first and the last of a person switch their care days.
CREATE TRIGGER stats_biometric_insert BEFORE INSERT ON biometrics
BEGIN
    INSERT INTO stats_care_person_step SELECT NEW.person_id, -1 WHERE NOT EXISTS (SELECT 1 FROM biometrics WHERE person_id = NEW.person_id);
    INSERT INTO stats_enrolled(day, area_code, category, n)
        SELECT x.m / 86400000, s.area_code, NEW.category, -1
        FROM (SELECT MIN(created_at) AS m FROM biometrics WHERE person_id = NEW.person_id AND category = NEW.category) x
        JOIN person_stats s ON s.person_id = NEW.person_id WHERE x.m IS NOT NULL AND NEW.created_at < x.m
        ON CONFLICT(day, area_code, category) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_enrolled(day, area_code, category, n)
        SELECT NEW.created_at / 86400000, s.area_code, NEW.category, 1
        FROM person_stats s WHERE s.person_id = NEW.person_id
            AND NOT EXISTS (SELECT 1 FROM biometrics WHERE person_id = NEW.person_id AND category = NEW.category AND created_at <= NEW.created_at)
        ON CONFLICT(day, area_code, category) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER stats_biometric_delete BEFORE DELETE ON biometrics
BEGIN
    INSERT INTO stats_enrolled(day, area_code, category, n)
        SELECT OLD.created_at / 86400000, s.area_code, OLD.category, -1
        FROM person_stats s WHERE s.person_id = OLD.person_id
            AND NOT EXISTS (SELECT 1 FROM biometrics WHERE person_id = OLD.person_id AND category = OLD.category AND reference_id <> OLD.reference_id AND created_at <= OLD.created_at)
        ON CONFLICT(day, area_code, category) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_enrolled(day, area_code, category, n)
        SELECT x.m / 86400000, s.area_code, OLD.category, 1
        FROM (SELECT MIN(created_at) AS m FROM biometrics WHERE person_id = OLD.person_id AND category = OLD.category AND reference_id <> OLD.reference_id) x
        JOIN person_stats s ON s.person_id = OLD.person_id WHERE x.m IS NOT NULL AND OLD.created_at < x.m
        ON CONFLICT(day, area_code, category) DO UPDATE SET n = n + excluded.n;
    INSERT INTO stats_care_person_step SELECT OLD.person_id, 1
        WHERE NOT EXISTS (SELECT 1 FROM biometrics WHERE person_id = OLD.person_id AND reference_id <> OLD.reference_id);
END;

-- Exclusion events.
CREATE TRIGGER stats_exclusion_insert BEFORE INSERT ON exclusion_events
BEGIN
    INSERT INTO stats_exclusions(day, site, category, kind, n) VALUES (NEW.at / 86400000, NEW.site, NEW.category, NEW.kind, 1)
        ON CONFLICT(day, site, category, kind) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stats_exclusion_delete BEFORE DELETE ON exclusion_events
BEGIN
    INSERT INTO stats_exclusions(day, site, category, kind, n) VALUES (OLD.at / 86400000, OLD.site, OLD.category, OLD.kind, -1)
        ON CONFLICT(day, site, category, kind) DO UPDATE SET n = n - 1;
END;

-- Backfill: the counts of the rows already stored (the same queries as
-- `assent report rebuild-counts`).
INSERT INTO stats_registered(area_code, birth_year, sex, n)
    SELECT area_code, birth_year, sex, COUNT(*) FROM person_stats GROUP BY area_code, birth_year, sex;
INSERT INTO stats_registered_days(day, area_code, n, n_estimated)
    SELECT registered_at / 86400000, area_code, COUNT(*), SUM(CASE WHEN birth_estimated THEN 1 ELSE 0 END) FROM person_stats
        GROUP BY registered_at / 86400000, area_code;
INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
    SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = d.person_id AND e.at < d.day * 86400000) / 86400000, -1) AS prev_day,
            s.area_code, s.birth_year, s.sex, COUNT(*)
        FROM (SELECT DISTINCT person_id, at / 86400000 AS day FROM exams) d JOIN person_stats s ON s.person_id = d.person_id
        GROUP BY d.day, prev_day, s.area_code, s.birth_year, s.sex;
INSERT INTO stats_enrolled(day, area_code, category, n)
    SELECT m.at / 86400000, s.area_code, m.category, COUNT(*)
        FROM (SELECT person_id, category, MIN(created_at) AS at FROM biometrics GROUP BY person_id, category) m
        JOIN person_stats s ON s.person_id = m.person_id GROUP BY m.at / 86400000, s.area_code, m.category;
INSERT INTO stats_area_answers(day, area_code, category, purpose, decision, n)
    SELECT c.at / 86400000, s.area_code, c.category, c.purpose, c.decision, COUNT(*) FROM consents c
        JOIN person_stats s ON s.person_id = c.person_id GROUP BY c.at / 86400000, s.area_code, c.category, c.purpose, c.decision;
INSERT INTO stats_site_answers(day, site, operator_id, category, purpose, decision, n)
    SELECT at / 86400000, site, operator_id, category, purpose, decision, COUNT(*) FROM consents
        GROUP BY at / 86400000, site, operator_id, category, purpose, decision;
INSERT INTO stats_exclusions(day, site, category, kind, n)
    SELECT at / 86400000, site, category, kind, COUNT(*) FROM exclusion_events GROUP BY at / 86400000, site, category, kind;
INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
    SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = d.person_id AND e.site = d.site AND e.at < d.day * 86400000) / 86400000, -1) AS prev_day,
            d.site, COUNT(*)
        FROM (SELECT DISTINCT person_id, site, at / 86400000 AS day FROM exams) d
        WHERE NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = d.person_id)
        GROUP BY d.day, prev_day, d.site;
