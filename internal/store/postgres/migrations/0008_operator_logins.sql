-- 0008: operators may also sign in to the web interface with a user name and
-- a password, kept as an argon2id hash (PHC string, salt included).
-- IF NOT EXISTS: servers migrating one empty schema at once may race here.
ALTER TABLE operators ADD COLUMN IF NOT EXISTS user_name TEXT;
ALTER TABLE operators ADD COLUMN IF NOT EXISTS password_hash BYTEA;
CREATE UNIQUE INDEX IF NOT EXISTS operators_user_name ON operators(user_name);
