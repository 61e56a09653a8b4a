-- 0010: an optional TOTP second factor for password sign-in. The secret is
-- sealed with the keyring (owner "operator:<id>"), never kept in clear;
-- totp_step is the last time step accepted, so a code is used once.
ALTER TABLE operators ADD COLUMN IF NOT EXISTS totp_sealed BYTEA;
ALTER TABLE operators ADD COLUMN IF NOT EXISTS totp_step BIGINT NOT NULL DEFAULT 0;
