-- Bulk load for `assent bench report` on SQLite: adds @n people to a store
-- that `assent bench report --people 20000 --data DIR` populated (it wrote
-- the area tree of 10 districts x 10 areas and the 20 sites), with the
-- bench's distribution (internal/benchpop/reports.go): a registration in the
-- last 365 days (whole hours), a leaf area, a birth year in the last 90, sex
-- female/male/female/male/other/unknown, a registration and a fingerprint
-- consent (declined one time in ten, never at site bench-0-0), a check-up an
-- hour after registration for 30 %, a fingerprint reference for 60 % of the
-- granted, else a capture failure one time in four. Rows only, nothing
-- sealed, as the bench writes them.
--
-- The count triggers of migration 0011 stay on: they keep the counts as the
-- rows go in, in the one transaction. Then `assent report rebuild-counts
-- --data DIR` must find nothing to correct. See docs/reports.md, "Speed".
--
--   sqlite3 DIR/assent.db -cmd '.parameter set @n 980000' < internal/benchpop/bulk/sqlite.sql
BEGIN;
-- The draws first, in a table of their own: a subquery's random() would be
-- drawn again at every use of its column.
CREATE TEMP TABLE draws AS
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < @n)
SELECT n, abs(random()) % 10 AS d, abs(random()) % 2 AS s, abs(random()) % 3 AS op, abs(random()) % 100 AS leaf,
       abs(random()) % 8760 AS h, abs(random()) % 90 AS age, abs(random()) % 6 AS sx, abs(random()) % 10 AS dec,
       abs(random()) % 10 AS ex, abs(random()) % 10 AS bio, abs(random()) % 4 AS excl FROM i;
CREATE TEMP TABLE bulk AS
SELECT printf('bulk-%07d', n) AS id,
       printf('bench-%d-%d', d, s) AS site,
       printf('bench-%d-%d-op%d', d, s, op) AS operator_id,
       printf('BR-D%d-A%d', leaf / 10, leaf % 10) AS area_code,
       (CAST(strftime('%s', 'now') AS INTEGER) - h * 3600) * 1000 AS at,
       CAST(strftime('%Y', 'now') AS INTEGER) - age AS birth_year,
       CASE sx WHEN 0 THEN 'female' WHEN 1 THEN 'male' WHEN 2 THEN 'female' WHEN 3 THEN 'male' WHEN 4 THEN 'other' ELSE 'unknown' END AS sex,
       CASE WHEN dec = 0 AND NOT (d = 0 AND s = 0) THEN 'declined' ELSE 'granted' END AS decision,
       ex < 3 AS exam, bio < 6 AS bio, excl = 0 AS excl
FROM draws;
DROP TABLE draws;

INSERT INTO persons(id, status, area_code, site, version, identity_sealed, created_at, updated_at)
    SELECT id, 'active', area_code, site, 1, X'00', at, at FROM bulk;
INSERT INTO person_stats(person_id, area_code, birth_year, birth_estimated, sex, site, operator_id, registered_at, reproject)
    SELECT id, area_code, birth_year, 0, sex, site, operator_id, at, 0 FROM bulk;
INSERT INTO consents(person_id, category, purpose, decision, method, notice_version, language, operator_id, site, at)
    SELECT id, c.category, c.purpose, CASE c.category WHEN 'identity' THEN 'granted' ELSE decision END,
           'bench', '1', 'en', operator_id, site, at
    FROM bulk, (SELECT 0 AS k, 'identity' AS category, 'registration' AS purpose
                UNION ALL SELECT 1, 'fingerprint', 'verification') AS c
    ORDER BY id, c.k;
INSERT INTO exams(id, person_id, site, at)
    SELECT 'exam-' || id, id, site, at + 3600000 FROM bulk WHERE exam;
INSERT INTO biometrics(reference_id, person_id, category, position, format, purpose, template_sealed, created_at)
    SELECT 'ref-' || id, id, 'fingerprint', 'right_index', 'image', 'verification', X'00', at FROM bulk
    WHERE decision = 'granted' AND bio;
INSERT INTO exclusion_events(site, category, kind, at)
    SELECT site, 'fingerprint', 'capture_failed', at FROM bulk
    WHERE NOT (decision = 'granted' AND bio) AND excl;
DROP TABLE bulk;
COMMIT;
