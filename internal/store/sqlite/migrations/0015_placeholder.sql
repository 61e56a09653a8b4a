-- 0015: reserved for another branch (wt-snap). This placeholder keeps the
-- numbering without gaps on wt-optlock; drop it when the real 0015 is merged.
SELECT 1;
