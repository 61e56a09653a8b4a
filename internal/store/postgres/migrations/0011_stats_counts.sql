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
-- PostgreSQL: triggers are PL/pgSQL (CockroachDB has them from 24.3;
-- YugabyteDB has them).
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
ALTER TABLE person_stats ALTER COLUMN reproject SET DEFAULT 0;
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
);

CREATE TABLE stats_registered_days (
    day         BIGINT NOT NULL,
    area_code   TEXT NOT NULL,
    n           INTEGER NOT NULL,
    n_estimated INTEGER NOT NULL,
    PRIMARY KEY (day, area_code)
);

CREATE TABLE stats_checkups (
    day        BIGINT NOT NULL,
    prev_day   BIGINT NOT NULL,
    area_code  TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    sex        TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (day, prev_day, area_code, birth_year, sex)
);

-- A person counts once per modality, on the day of their earliest reference.
CREATE TABLE stats_enrolled (
    day       BIGINT NOT NULL,
    area_code TEXT NOT NULL,
    category  TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, area_code, category)
);

CREATE TABLE stats_area_answers (
    day       BIGINT NOT NULL,
    area_code TEXT NOT NULL,
    category  TEXT NOT NULL,
    purpose   TEXT NOT NULL,
    decision  TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, area_code, category, purpose, decision)
);

CREATE TABLE stats_site_answers (
    day         BIGINT NOT NULL,
    site        TEXT NOT NULL,
    operator_id TEXT NOT NULL,
    category    TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    decision    TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (day, site, operator_id, category, purpose, decision)
);

CREATE TABLE stats_exclusions (
    day      BIGINT NOT NULL,
    site     TEXT NOT NULL,
    category TEXT NOT NULL,
    kind     TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, site, category, kind)
);

-- Person-days per exam site of people who hold no biometric reference.
CREATE TABLE stats_care_no_biometrics (
    day      BIGINT NOT NULL,
    prev_day BIGINT NOT NULL,
    site     TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, prev_day, site)
);


-- The triggers: PL/pgSQL functions. Row triggers on consents, exams,
-- biometrics and exclusion events run BEFORE each row, so a statement that
-- deletes several rows of a person (erasure) is counted row after row: the
-- row being written is not yet there (insert) or still there (delete).

-- A person-day (p, d) appears (sign 1) or disappears (-1) among the exams
-- of p (at site s when s is not null: care days): its (day, prev_day) and
-- the next day's prev_day. Returns the rows to add to a count, as
-- (day, prev_day, n).
CREATE FUNCTION stats_person_day_moves(p TEXT, s TEXT, d BIGINT, sign INTEGER)
RETURNS TABLE(day BIGINT, prev_day BIGINT, n INTEGER) LANGUAGE plpgsql AS $$
DECLARE
    pd BIGINT;
    nd BIGINT;
BEGIN
    SELECT COALESCE(MAX(e.at) / 86400000, -1) INTO pd FROM exams e
        WHERE e.person_id = p AND (s IS NULL OR e.site = s) AND e.at < d * 86400000;
    SELECT MIN(e.at) / 86400000 INTO nd FROM exams e
        WHERE e.person_id = p AND (s IS NULL OR e.site = s) AND e.at >= (d + 1) * 86400000;
    day := d; prev_day := pd; n := sign; RETURN NEXT;
    IF nd IS NOT NULL THEN
        day := nd; prev_day := pd; n := -sign; RETURN NEXT;
        day := nd; prev_day := d; n := sign; RETURN NEXT;
    END IF;
END $$;

CREATE FUNCTION stats_checkup_step(p TEXT, d BIGINT, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
        SELECT m.day, m.prev_day, s.area_code, s.birth_year, s.sex, m.n
        FROM stats_person_day_moves(p, NULL, d, sign) m JOIN person_stats s ON s.person_id = p
        ON CONFLICT(day, prev_day, area_code, birth_year, sex) DO UPDATE SET n = stats_checkups.n + excluded.n;
END $$;

CREATE FUNCTION stats_care_step(p TEXT, at_site TEXT, d BIGINT, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
        SELECT m.day, m.prev_day, at_site, m.n FROM stats_person_day_moves(p, at_site, d, sign) m
        ON CONFLICT(day, prev_day, site) DO UPDATE SET n = stats_care_no_biometrics.n + excluded.n;
END $$;

-- Every care person-site-day of a person counts (1) or stops counting (-1).
CREATE FUNCTION stats_care_person_step(p TEXT, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_care_no_biometrics(day, prev_day, site, n)
        SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = p AND e.site = d.site AND e.at < d.day * 86400000) / 86400000, -1),
            d.site, sign
        FROM (SELECT DISTINCT e.site, e.at / 86400000 AS day FROM exams e WHERE e.person_id = p) d
        ON CONFLICT(day, prev_day, site) DO UPDATE SET n = stats_care_no_biometrics.n + excluded.n;
END $$;

-- A person's projection row appears (1) or disappears (-1).
CREATE FUNCTION stats_person_step(r person_stats, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stats_registered(area_code, birth_year, sex, n) VALUES (r.area_code, r.birth_year, r.sex, sign)
        ON CONFLICT(area_code, birth_year, sex) DO UPDATE SET n = stats_registered.n + excluded.n;
    INSERT INTO stats_registered_days(day, area_code, n, n_estimated)
        VALUES (r.registered_at / 86400000, r.area_code, sign, CASE WHEN r.birth_estimated THEN sign ELSE 0 END)
        ON CONFLICT(day, area_code) DO UPDATE SET n = stats_registered_days.n + excluded.n,
            n_estimated = stats_registered_days.n_estimated + excluded.n_estimated;
    INSERT INTO stats_area_answers(day, area_code, category, purpose, decision, n)
        SELECT c.at / 86400000, r.area_code, c.category, c.purpose, c.decision, sign * COUNT(*)
        FROM consents c WHERE c.person_id = r.person_id GROUP BY c.at / 86400000, c.category, c.purpose, c.decision
        ON CONFLICT(day, area_code, category, purpose, decision) DO UPDATE SET n = stats_area_answers.n + excluded.n;
    INSERT INTO stats_enrolled(day, area_code, category, n)
        SELECT MIN(b.created_at) / 86400000, r.area_code, b.category, sign
        FROM biometrics b WHERE b.person_id = r.person_id GROUP BY b.category
        ON CONFLICT(day, area_code, category) DO UPDATE SET n = stats_enrolled.n + excluded.n;
    INSERT INTO stats_checkups(day, prev_day, area_code, birth_year, sex, n)
        SELECT d.day, COALESCE((SELECT MAX(e.at) FROM exams e WHERE e.person_id = r.person_id AND e.at < d.day * 86400000) / 86400000, -1),
            r.area_code, r.birth_year, r.sex, sign
        FROM (SELECT DISTINCT e.at / 86400000 AS day FROM exams e WHERE e.person_id = r.person_id) d
        ON CONFLICT(day, prev_day, area_code, birth_year, sex) DO UPDATE SET n = stats_checkups.n + excluded.n;
END $$;

CREATE FUNCTION stats_person_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM stats_person_step(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM stats_person_step(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER stats_person AFTER INSERT OR UPDATE OR DELETE ON person_stats
    FOR EACH ROW EXECUTE FUNCTION stats_person_trigger();

-- Consent answers (each one counts; the records stay after erasure).
CREATE FUNCTION stats_consent_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r consents;
    sign INTEGER;
BEGIN
    IF TG_OP = 'INSERT' THEN r := NEW; sign := 1; ELSE r := OLD; sign := -1; END IF;
    INSERT INTO stats_site_answers(day, site, operator_id, category, purpose, decision, n)
        VALUES (r.at / 86400000, r.site, r.operator_id, r.category, r.purpose, r.decision, sign)
        ON CONFLICT(day, site, operator_id, category, purpose, decision) DO UPDATE SET n = stats_site_answers.n + excluded.n;
    INSERT INTO stats_area_answers(day, area_code, category, purpose, decision, n)
        SELECT r.at / 86400000, s.area_code, r.category, r.purpose, r.decision, sign FROM person_stats s WHERE s.person_id = r.person_id
        ON CONFLICT(day, area_code, category, purpose, decision) DO UPDATE SET n = stats_area_answers.n + excluded.n;
    IF TG_OP = 'INSERT' THEN RETURN NEW; END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER stats_consent BEFORE INSERT OR DELETE ON consents
    FOR EACH ROW EXECUTE FUNCTION stats_consent_trigger();

-- Check-ups, and care days of people without biometrics.
CREATE FUNCTION stats_exam_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r exams;
    sign INTEGER;
    lo BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN r := NEW; sign := 1; ELSE r := OLD; sign := -1; END IF;
    lo := r.at / 86400000 * 86400000;
    IF NOT EXISTS (SELECT 1 FROM exams e WHERE e.person_id = r.person_id AND e.id <> r.id AND e.at >= lo AND e.at < lo + 86400000) THEN
        PERFORM stats_checkup_step(r.person_id, r.at / 86400000, sign);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = r.person_id)
        AND NOT EXISTS (SELECT 1 FROM exams e WHERE e.person_id = r.person_id AND e.site = r.site AND e.id <> r.id AND e.at >= lo AND e.at < lo + 86400000) THEN
        PERFORM stats_care_step(r.person_id, r.site, r.at / 86400000, sign);
    END IF;
    IF TG_OP = 'INSERT' THEN RETURN NEW; END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER stats_exam BEFORE INSERT OR DELETE ON exams
    FOR EACH ROW EXECUTE FUNCTION stats_exam_trigger();

-- Biometric references: the earliest per person and modality counts
-- enrolment; the first and the last of a person switch their care days.
CREATE FUNCTION stats_biometric_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = NEW.person_id) THEN
            PERFORM stats_care_person_step(NEW.person_id, -1);
        END IF;
        SELECT MIN(b.created_at) INTO m FROM biometrics b WHERE b.person_id = NEW.person_id AND b.category = NEW.category
            AND b.reference_id <> NEW.reference_id;
        IF m IS NULL OR NEW.created_at < m THEN
            -- Summed per day: the old and the new earliest may share one.
            INSERT INTO stats_enrolled(day, area_code, category, n)
                SELECT x.day, s.area_code, NEW.category, SUM(x.n) FROM person_stats s,
                    (VALUES (m / 86400000, -1), (NEW.created_at / 86400000, 1)) AS x(day, n)
                WHERE s.person_id = NEW.person_id AND x.day IS NOT NULL GROUP BY x.day, s.area_code
                ON CONFLICT(day, area_code, category) DO UPDATE SET n = stats_enrolled.n + excluded.n;
        END IF;
        RETURN NEW;
    END IF;
    SELECT MIN(b.created_at) INTO m FROM biometrics b WHERE b.person_id = OLD.person_id AND b.category = OLD.category
        AND b.reference_id <> OLD.reference_id;
    IF m IS NULL OR OLD.created_at < m THEN
        INSERT INTO stats_enrolled(day, area_code, category, n)
            SELECT x.day, s.area_code, OLD.category, SUM(x.n) FROM person_stats s,
                (VALUES (OLD.created_at / 86400000, -1), (m / 86400000, 1)) AS x(day, n)
            WHERE s.person_id = OLD.person_id AND x.day IS NOT NULL GROUP BY x.day, s.area_code
            ON CONFLICT(day, area_code, category) DO UPDATE SET n = stats_enrolled.n + excluded.n;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM biometrics b WHERE b.person_id = OLD.person_id AND b.reference_id <> OLD.reference_id) THEN
        PERFORM stats_care_person_step(OLD.person_id, 1);
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER stats_biometric BEFORE INSERT OR DELETE ON biometrics
    FOR EACH ROW EXECUTE FUNCTION stats_biometric_trigger();

-- Exclusion events.
CREATE FUNCTION stats_exclusion_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r exclusion_events;
    sign INTEGER;
BEGIN
    IF TG_OP = 'INSERT' THEN r := NEW; sign := 1; ELSE r := OLD; sign := -1; END IF;
    INSERT INTO stats_exclusions(day, site, category, kind, n) VALUES (r.at / 86400000, r.site, r.category, r.kind, sign)
        ON CONFLICT(day, site, category, kind) DO UPDATE SET n = stats_exclusions.n + excluded.n;
    IF TG_OP = 'INSERT' THEN RETURN NEW; END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER stats_exclusion BEFORE INSERT OR DELETE ON exclusion_events
    FOR EACH ROW EXECUTE FUNCTION stats_exclusion_trigger();

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
