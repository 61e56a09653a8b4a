-- 0009: the statistics projection records whether a person's birth date was
-- estimated (a partial date YYYY or YYYY-MM, or a full date marked
-- birth_date_estimated), so the register quality report counts them by SQL.
-- People projected before this migration count as not estimated until their
-- record is next rectified (the flag is sealed with their identity).
ALTER TABLE person_stats ADD COLUMN birth_estimated BOOLEAN NOT NULL DEFAULT FALSE;
