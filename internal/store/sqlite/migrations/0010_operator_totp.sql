-- 0010: an optional TOTP second factor for password sign-in. The secret is
-- sealed with the keyring (owner "operator:<id>"), never kept in clear;
-- totp_step is the last time step accepted, so a code is used once.
ALTER TABLE operators ADD COLUMN totp_sealed BLOB;
ALTER TABLE operators ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;
