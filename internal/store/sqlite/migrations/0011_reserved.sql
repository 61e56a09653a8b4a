-- 0011: reserved for another branch's migration (wt-reports); a no-op here
-- so that the numbering has no gap. Drop this file when that one lands.
SELECT 1;
