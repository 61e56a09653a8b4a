-- 0014: what several API nodes over one database share, moved out of each
-- process's memory: sign-in sessions (portal and web interface), login
-- counters (rate limits and lockouts) and leases (the audit checkpoint
-- cutter). Ids and keys are keyed MACs made by the registry; no token, name,
-- person id of a counter or client address is stored in the clear. Times are
-- Unix milliseconds; a row is dead after expires_at and pruned.
CREATE TABLE IF NOT EXISTS sessions (
	id          BYTEA PRIMARY KEY,
	kind        TEXT NOT NULL,
	operator_id TEXT NOT NULL DEFAULT '',
	person_id   TEXT NOT NULL DEFAULT '',
	parent      BYTEA,
	role        TEXT NOT NULL DEFAULT '',
	purpose     TEXT NOT NULL DEFAULT '',
	method      TEXT NOT NULL DEFAULT '',
	expires_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires_at);
CREATE INDEX IF NOT EXISTS sessions_parent ON sessions(parent);
CREATE INDEX IF NOT EXISTS sessions_person ON sessions(person_id);
CREATE TABLE IF NOT EXISTS login_counters (
	key          BYTEA PRIMARY KEY,
	n            BIGINT NOT NULL,
	start        BIGINT NOT NULL,
	locked_until BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_counters_expires ON login_counters(expires_at);
CREATE TABLE IF NOT EXISTS leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at BIGINT NOT NULL
);
