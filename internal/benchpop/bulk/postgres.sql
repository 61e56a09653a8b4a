-- Bulk load for `assent bench report --postgres URL`: adds :n people to a
-- database that `assent bench report --people 20000 --data DIR --postgres URL`
-- populated (the area tree of 10 districts x 10 areas and the 20 sites), with
-- the bench's distribution; see sqlite.sql beside this file for it.
--
-- The count triggers of migration 0011 are off for this session
-- (session_replication_role = replica: row triggers do not fire), so the
-- rows go in without their counts; `assent report rebuild-counts --data DIR
-- --postgres URL` then computes every count from the rows, as for any bulk
-- load. ANALYZE at the end does what autovacuum would do soon after.
--
--   psql URL -v n=980000 -f internal/benchpop/bulk/postgres.sql
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL session_replication_role = replica;
CREATE TEMP TABLE bulk ON COMMIT DROP AS
SELECT 'bulk-' || lpad(n::text, 7, '0') AS id,
       format('bench-%s-%s', d, s) AS site,
       format('bench-%s-%s-op%s', d, s, op) AS operator_id,
       format('BR-D%s-A%s', leaf / 10, leaf % 10) AS area_code,
       (floor(extract(epoch FROM now()))::bigint - h * 3600) * 1000 AS at,
       extract(year FROM now() AT TIME ZONE 'UTC')::int - age AS birth_year,
       (ARRAY['female', 'male', 'female', 'male', 'other', 'unknown'])[sx + 1] AS sex,
       CASE WHEN dec = 0 AND NOT (d = 0 AND s = 0) THEN 'declined' ELSE 'granted' END AS decision,
       ex < 3 AS exam, bio < 6 AS bio, excl = 0 AS excl
FROM (SELECT n, floor(random() * 10)::int AS d, floor(random() * 2)::int AS s, floor(random() * 3)::int AS op,
             floor(random() * 100)::int AS leaf, floor(random() * 8760)::bigint AS h, floor(random() * 90)::int AS age,
             floor(random() * 6)::int AS sx, floor(random() * 10)::int AS dec, floor(random() * 10)::int AS ex,
             floor(random() * 10)::int AS bio, floor(random() * 4)::int AS excl
      FROM generate_series(1, :n) AS n) AS r;

INSERT INTO persons(id, status, area_code, site, version, identity_sealed, created_at, updated_at)
    SELECT id, 'active', area_code, site, 1, '\x00'::bytea, at, at FROM bulk;
INSERT INTO person_stats(person_id, area_code, birth_year, birth_estimated, sex, site, operator_id, registered_at, reproject)
    SELECT id, area_code, birth_year, false, sex, site, operator_id, at, 0 FROM bulk;
INSERT INTO consents(person_id, category, purpose, decision, method, notice_version, language, operator_id, site, at)
    SELECT id, c.category, c.purpose, CASE c.category WHEN 'identity' THEN 'granted' ELSE decision END,
           'bench', '1', 'en', operator_id, site, at
    FROM bulk, (VALUES (0, 'identity', 'registration'), (1, 'fingerprint', 'verification')) AS c(k, category, purpose)
    ORDER BY id, c.k;
INSERT INTO exams(id, person_id, site, at)
    SELECT 'exam-' || id, id, site, at + 3600000 FROM bulk WHERE exam;
INSERT INTO biometrics(reference_id, person_id, category, position, format, purpose, template_sealed, created_at)
    SELECT 'ref-' || id, id, 'fingerprint', 'right_index', 'image', 'verification', '\x00'::bytea, at FROM bulk
    WHERE decision = 'granted' AND bio;
INSERT INTO exclusion_events(site, category, kind, at)
    SELECT site, 'fingerprint', 'capture_failed', at FROM bulk
    WHERE NOT (decision = 'granted' AND bio) AND excl;
COMMIT;
ANALYZE;
