-- 0014: what several API nodes over one database share, moved out of each
-- process's memory: sign-in sessions (portal and web interface), login
-- counters (rate limits and lockouts) and leases (the audit checkpoint
-- cutter). Ids and keys are keyed MACs made by the registry; no token, name,
-- person id of a counter or client address is stored in the clear. Times are
-- Unix milliseconds; a row is dead after expires_at and pruned.
CREATE TABLE sessions (
	id          BLOB PRIMARY KEY,
	kind        TEXT NOT NULL,
	operator_id TEXT NOT NULL DEFAULT '',
	person_id   TEXT NOT NULL DEFAULT '',
	parent      BLOB,
	role        TEXT NOT NULL DEFAULT '',
	purpose     TEXT NOT NULL DEFAULT '',
	method      TEXT NOT NULL DEFAULT '',
	expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_parent ON sessions(parent);
CREATE INDEX sessions_person ON sessions(person_id);
CREATE TABLE login_counters (
	key          BLOB PRIMARY KEY,
	n            INTEGER NOT NULL,
	start        INTEGER NOT NULL,
	locked_until INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);
CREATE INDEX login_counters_expires ON login_counters(expires_at);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);
