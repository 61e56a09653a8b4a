-- 0005: the person number, a short random number people read, type and say
-- (10 digits and a Verhoeff check digit, stored without separators). A
-- tombstone keeps it, so a number is never given to someone else.
ALTER TABLE persons ADD COLUMN number TEXT;
CREATE UNIQUE INDEX persons_number ON persons(number);
