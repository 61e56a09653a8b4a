-- 0008: operators may also sign in to the web interface with a user name and
-- a password, kept as an argon2id hash (PHC string, salt included).
ALTER TABLE operators ADD COLUMN user_name TEXT;
ALTER TABLE operators ADD COLUMN password_hash BLOB;
CREATE UNIQUE INDEX operators_user_name ON operators(user_name);
