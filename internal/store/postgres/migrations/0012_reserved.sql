-- 0012: reserved in branch wt-cluster for another helper's migration (the
-- migrator needs 1..n without gaps). The lead deletes this file on merge.
SELECT 1;
