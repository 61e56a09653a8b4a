// Package envelope keeps personal data sealed at rest and makes erasure real.
//
// Every (person, category) pair has its own 256-bit data key. Records are
// sealed with AES-256-GCM under that key, with additional data that binds the
// person id, the category, the record kind and the key version, so a sealed
// value moved to another person, category or field no longer opens. Data keys
// are wrapped (AES-256-GCM again) under a key-encryption key derived from the
// master key and kept in a KeyStore that lives apart from the data: by default
// its own SQLite file with secure_delete, never copied by backups.
//
// Erasure is crypto-shredding: Shred deletes one (person, category) data key,
// ShredPerson every data key of a person. Sealed values left behind, in the
// live database or in any backup of it, can then never be opened again.
//
// The master key only wraps; rotating it (RotateMaster) rewraps every stored
// key in one key-store transaction and touches no data. Blind indexes, API-key
// MACs and Ed25519 signing keys hang off secrets stored (wrapped) in the key
// store, so they survive master rotation and restarts unchanged.
//
// The layout, formats and the backup rules are written up in docs/keys.md.
package envelope
