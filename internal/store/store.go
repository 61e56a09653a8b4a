// Package store defines what the registry keeps and the storage contract every
// backend implements. Rows carry personal data only in sealed form (bytes
// produced by internal/envelope); a backend never sees a name, a birth date or
// a template in the clear.
//
// Every change happens inside one transaction opened with Store.Update; the
// access it belongs to and its audit event commit or roll back together.
// Backends: internal/store/sqlite (embedded default). Each must pass
// internal/store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns (wrapped) so callers can use errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrStaleSchema  = errors.New("schema is older than this binary; run migrations")
	ErrSchemaTooNew = errors.New("schema is newer than this binary")
)

// Store opens transactions. Implementations are safe for concurrent use.
type Store interface {
	// Update runs fn in a read-write transaction. If fn returns an error the
	// transaction is rolled back and that error returned; otherwise it commits
	// durably before Update returns.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// SchemaVersion reports the applied migration number.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Tx is one transaction. It must not be used after fn returns.
type Tx interface {
	Sites
	Operators
	Households
	Persons
	Consents
	Exams
	Specimens
	Biometrics
	Cases
	PendingSearches
	Imports
	Identifiers
	Audit
	Areas
	Statistics
	Rights
	GalleryOutbox
	DedupSequence
	Shared
}

// Rights are what the person's rights need beyond the basic rows: merged
// records, and care data kept for a retention period after an erasure.
type Rights interface {
	// AliasesOf lists the persons merged into id (alias_of = id), by id.
	AliasesOf(ctx context.Context, id string) ([]string, error)
	// ErasePersonKeepCare is ErasePerson except that the care rows (exams,
	// specimens and their custody events) are kept, for a retention period.
	ErasePersonKeepCare(ctx context.Context, id string, at time.Time) error
	// DeleteCareData deletes a person's care rows: exams, specimens and
	// custody events (the end of a retention period).
	DeleteCareData(ctx context.Context, personID string) error
	// ErasedWithCareData lists tombstones erased before the given time that
	// still have care rows, by id, at most limit.
	ErasedWithCareData(ctx context.Context, before time.Time, limit int) ([]string, error)
}

// Site is a place where people are registered and cared for.
type Site struct {
	Code      string
	Name      string
	AreaCode  string
	CreatedAt time.Time
}

type Sites interface {
	CreateSite(ctx context.Context, s Site) error // ErrConflict if the code exists
	GetSite(ctx context.Context, code string) (Site, error)
	ListSites(ctx context.Context) ([]Site, error)
}

// Operator is a holder of an API key. KeyMAC is the HMAC of the key; the key
// itself is never stored.
type Operator struct {
	ID        string
	Role      string
	Site      string // may be empty (e.g. admin, auditor)
	Name      string
	KeyMAC    []byte
	CreatedAt time.Time
	RevokedAt *time.Time
	User      string // the user name of password sign-in; empty when none is set (read only: SetOperatorLogin writes it)
}

type Operators interface {
	CreateOperator(ctx context.Context, o Operator) error
	// OperatorByKeyMAC finds an operator that is not revoked.
	OperatorByKeyMAC(ctx context.Context, mac []byte) (Operator, error)
	ListOperators(ctx context.Context) ([]Operator, error)
	RevokeOperator(ctx context.Context, id string, at time.Time) error
	// GetOperator returns an operator by id, revoked or not.
	GetOperator(ctx context.Context, id string) (Operator, error)
	// SetOperatorLogin sets the user name and password hash an operator
	// signs in with: ErrNotFound for no such operator, ErrConflict when
	// another operator has the user name.
	SetOperatorLogin(ctx context.Context, id, user string, hash []byte) error
	// OperatorByUser finds the operator, not revoked, that signs in as
	// user, with its password hash.
	OperatorByUser(ctx context.Context, user string) (Operator, []byte, error)
	// SetOperatorTOTP sets (or, with nil, clears) an operator's sealed
	// TOTP secret and resets the last step used: ErrNotFound for no such
	// operator.
	SetOperatorTOTP(ctx context.Context, id string, sealed []byte, step int64) error
	// OperatorTOTP returns the sealed TOTP secret (nil when off) and the
	// step of the last code accepted.
	OperatorTOTP(ctx context.Context, id string) ([]byte, int64, error)
	// UseOperatorTOTPStep records step as used, only if it is later than
	// the last one: ErrConflict otherwise (a replayed code).
	UseOperatorTOTPStep(ctx context.Context, id string, step int64) error
}

// Household is a group of people living together. Address is sealed.
type Household struct {
	ID            string
	AreaCode      string
	HeadID        string // empty until a head is named
	AddressSealed []byte
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

type Households interface {
	CreateHousehold(ctx context.Context, h Household) error
	GetHousehold(ctx context.Context, id string) (Household, error)
	UpdateHousehold(ctx context.Context, h Household) error
	// HouseholdMembers lists the persons (not erased) whose household is id.
	HouseholdMembers(ctx context.Context, id string) ([]Person, error)
}

// Person statuses.
const (
	StatusActive = "active"
	StatusErased = "erased" // a tombstone: the id is kept, nothing else
)

// Person is a registered person. IdentitySealed holds names, birth date, sex
// and contact details; the plain columns hold only what routing, households
// and coverage reports need.
type Person struct {
	ID             string
	Status         string
	AreaCode       string
	HouseholdID    string
	Relationship   string
	GuardianID     string
	Site           string // where registered
	Version        int    // increases with every rectification
	IdentitySealed []byte
	// LookupIndex is a short keyed blind index (HMAC) of the normalised name
	// and birth date together, so a registrar can find a person while names
	// stay sealed. It is a bucket shared by many people, not an identifier.
	LookupIndex []byte
	// PortalCodeMAC is the HMAC of the code printed on the consent receipt.
	PortalCodeMAC []byte
	// AliasOf is set when an adjudicator found this person to be another
	// (the older) one: this id then only points there.
	AliasOf string
	// Number is the person number (11 digits, internal/personnumber),
	// unique; empty for records made before numbers existed.
	Number    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PersonVersion is an earlier state of a person kept on rectification.
type PersonVersion struct {
	PersonID       string
	Version        int
	IdentitySealed []byte
	HouseholdID    string
	Relationship   string
	AreaCode       string
	ChangedAt      time.Time
	ChangedBy      string // operator id
}

type Persons interface {
	CreatePerson(ctx context.Context, p Person) error
	GetPerson(ctx context.Context, id string) (Person, error)
	// GetPersons reads the persons (tombstones and aliases included) whose
	// ids are in ids, in no particular order; an unknown id is left out. One
	// query for many people (a gallery load's page).
	GetPersons(ctx context.Context, ids []string) ([]Person, error)
	// PersonByNumber finds the person (tombstones included) holding a
	// person number; ErrNotFound if none does.
	PersonByNumber(ctx context.Context, number string) (Person, error)
	// UpdatePerson writes p if its stored Version is p.Version-1.
	UpdatePerson(ctx context.Context, p Person) error
	AddPersonVersion(ctx context.Context, v PersonVersion) error
	PersonVersions(ctx context.Context, id string) ([]PersonVersion, error)
	// FindPersons lists active persons whose LookupIndex is index.
	FindPersons(ctx context.Context, index []byte) ([]string, error)
	// ErasePerson deletes every row about the person and leaves a tombstone.
	// The person's sessions (store.Shared) end with it.
	ErasePerson(ctx context.Context, id string, at time.Time) error
}

// ConsentRecord is one answer; the latest per (category, purpose) is the state.
type ConsentRecord struct {
	Seq           int64 // assigned by the store, increasing
	PersonID      string
	Category      string
	Purpose       string
	Decision      string
	Method        string
	NoticeVersion string
	Language      string
	OperatorID    string
	Site          string
	GuardianID    string
	At            time.Time
}

type Consents interface {
	AppendConsent(ctx context.Context, c ConsentRecord) (ConsentRecord, error)
	// ConsentHistory lists a person's records oldest first.
	ConsentHistory(ctx context.Context, personID string) ([]ConsentRecord, error)
	// ConsentHistories is ConsentHistory for many people in one query: each
	// listed person's records oldest first, keyed by person id (a person
	// with none is absent).
	ConsentHistories(ctx context.Context, personIDs []string) (map[string][]ConsentRecord, error)
	// ConsentCounts counts the current decisions per (site, category, decision).
	ConsentCounts(ctx context.Context) ([]ConsentCount, error)
}

// ConsentCount is one cell of the coercion-monitoring table.
type ConsentCount struct {
	Site, Category, Decision string
	N                        int
}

// Exam is a check-up. Findings are sealed under the health category key;
// BloodTypeSealed under blood_type.
type Exam struct {
	ID              string
	PersonID        string
	Site            string
	OperatorID      string
	FindingsSealed  []byte
	BloodTypeSealed []byte // nil when not recorded
	At              time.Time
}

type Exams interface {
	AddExam(ctx context.Context, e Exam) error
	ListExams(ctx context.Context, personID string) ([]Exam, error)
	// ExamPerson returns the id of the person an exam belongs to
	// (ErrNotFound if no exam has that id).
	ExamPerson(ctx context.Context, examID string) (string, error)
	// DeleteExamCategory removes sealed data of one category from a person's
	// exams ("health" deletes whole exams, "blood_type" clears the field).
	DeleteExamCategory(ctx context.Context, personID, category string) error
}

// Specimen is a biobank specimen; Sealed holds its custody record (dna key).
type Specimen struct {
	ID        string
	PersonID  string
	Sealed    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SpecimenEvent is one chain-of-custody event, sealed under the dna key.
type SpecimenEvent struct {
	Seq        int64
	SpecimenID string
	PersonID   string
	Sealed     []byte
	At         time.Time
}

type Specimens interface {
	AddSpecimen(ctx context.Context, s Specimen) error
	GetSpecimen(ctx context.Context, id string) (Specimen, error)
	UpdateSpecimen(ctx context.Context, s Specimen) error
	ListSpecimens(ctx context.Context, personID string) ([]Specimen, error)
	AddSpecimenEvent(ctx context.Context, e SpecimenEvent) (SpecimenEvent, error)
	SpecimenEvents(ctx context.Context, specimenID string) ([]SpecimenEvent, error)
}

// Biometric is one stored biometric reference. TemplateSealed is a template
// (or, for face, the photo) sealed under the person's category key.
type Biometric struct {
	ReferenceID    string
	PersonID       string
	Category       string // fingerprint, iris, face
	Position       string // right_index, left_eye, face, ...
	Format         string // image or iso19794-2 (as captured)
	Purpose        string // verification or deduplication: what it was enrolled for
	Quality        int
	TemplateSealed []byte
	CreatedAt      time.Time
	// DedupSeq places a deduplication template in its modality's sequence
	// of additions to the 1:N galleries (DedupSequence); 0 for any other
	// reference, and for those stored before migration 0015. Written by
	// AddBiometric and RenumberDedup, read by DedupAddedAfter only.
	DedupSeq int64
}

type Biometrics interface {
	AddBiometric(ctx context.Context, b Biometric) error
	ListBiometrics(ctx context.Context, personID string) ([]Biometric, error)
	// DeleteBiometrics removes a person's references of one category ("" = all).
	DeleteBiometrics(ctx context.Context, personID, category string) error
	// BiometricsPage lists references of a category with reference_id > after,
	// in reference_id order, of active persons only (for rebuilding galleries).
	BiometricsPage(ctx context.Context, category, after string, limit int) ([]Biometric, error)
}

// Case statuses.
const (
	CaseOpen    = "open"
	CaseDecided = "decided"
)

// Case is a possible duplicate found at enrolment, for an adjudicator.
// PersonA is the earlier-registered person.
type Case struct {
	ID         string
	Status     string
	PersonA    string
	PersonB    string
	Score      float64
	Modalities string // comma-separated categories that matched
	Decision   string // same or different, once decided
	Note       string
	DecidedBy  string
	CreatedAt  time.Time
	DecidedAt  *time.Time
}

type Cases interface {
	// OpenCase stores c, or, when an open case for the same pair exists,
	// raises its score and modalities and returns it.
	OpenCase(ctx context.Context, c Case) (Case, error)
	GetCase(ctx context.Context, id string) (Case, error)
	ListCases(ctx context.Context, status string, limit int) ([]Case, error)
	// DecideCase records the decision of an open case (ErrConflict if it is
	// no longer open).
	DecideCase(ctx context.Context, c Case) error
	// CasesOf lists the cases involving a person.
	CasesOf(ctx context.Context, personID string) ([]Case, error)
}

// PendingSearch is a deduplication search that did not finish because part
// of the gallery did not answer (a shard down): the template's reference,
// its person and modality, since when, and the attempts made since to
// finish it. It holds ids and times only. A row goes with its biometric
// reference: deleting the reference (an erasure) deletes the row.
type PendingSearch struct {
	ReferenceID string
	PersonID    string
	Modality    string
	Since       time.Time
	Attempts    int       // attempts that did not finish, after the enrolment's own
	TriedAt     time.Time // the last of them; zero when none
	LastError   string    // why the last attempt did not finish (no personal data)
}

// PendingSearches keeps the deduplication searches still to finish.
type PendingSearches interface {
	// AddPendingSearch records p for a stored reference (in the
	// transaction that stores it); ErrConflict if the reference already has
	// a row.
	AddPendingSearch(ctx context.Context, p PendingSearch) error
	// ListPendingSearches lists up to limit rows, the least recently tried
	// first (never retried first, then the oldest).
	ListPendingSearches(ctx context.Context, limit int) ([]PendingSearch, error)
	// TakePendingSearch deletes the row of ref and returns it, or
	// ErrNotFound when there is none (another node finished it, or the
	// reference was erased). Of transactions taking one row at once, one
	// gets it; the others fail to commit (and, retried, find none).
	TakePendingSearch(ctx context.Context, ref string) (PendingSearch, error)
	// NotePendingAttempt records one more attempt, at, that did not finish
	// and why; ErrNotFound when the row is gone.
	NotePendingAttempt(ctx context.Context, ref string, at time.Time, why string) error
	// CountPendingSearches counts the rows.
	CountPendingSearches(ctx context.Context) (int, error)
}

// Imports records which lines of bulk imports are done.
type Imports interface {
	// RecordImport marks key (file and line) as imported as personID;
	// ErrConflict if it already was.
	RecordImport(ctx context.Context, key, personID string, at time.Time) error
	// ImportedPerson returns the person a key was imported as, or ErrNotFound.
	ImportedPerson(ctx context.Context, key string) (string, error)
}

// AuditRow is one stored audit event: its index, encoded data and leaf hash.
type AuditRow struct {
	Index    uint64
	PersonID string // the row's person index column
	Data     []byte
	LeafHash []byte
}

type Audit interface {
	// AppendAudit stores data at the next index and returns the index.
	// personID (may be empty) indexes the row for the person's access log.
	AppendAudit(ctx context.Context, personID string, data, leafHash []byte) (uint64, error)
	// AuditRowsForPerson lists the rows about one person, oldest first.
	AuditRowsForPerson(ctx context.Context, personID string, limit int) ([]AuditRow, error)
	AuditLeafHashes(ctx context.Context, from uint64, limit int) ([][]byte, error)
	AuditRows(ctx context.Context, from uint64, limit int) ([]AuditRow, error)
	AuditSize(ctx context.Context) (uint64, error)
	SaveCheckpoint(ctx context.Context, size uint64, note []byte, at time.Time) error
	// LatestCheckpoint returns ErrNotFound when there is none.
	LatestCheckpoint(ctx context.Context) (size uint64, note []byte, err error)
	Checkpoints(ctx context.Context) ([][]byte, error)
}

// Gallery change operations (the gallery outbox).
const (
	// GalleryAdd: a deduplication template (Ref) of the person was stored.
	GalleryAdd = "add"
	// GalleryRemove: the person (or, with Ref, one reference) leaves the
	// galleries: erasure, merge into another record.
	GalleryRemove = "remove"
	// GallerySync: the person's consents or data changed; a gallery brings
	// the person in line with the store (adds and removes as the policy
	// says now).
	GallerySync = "sync"
)

// GalleryChange is one row of the gallery outbox: a change that must reach
// every 1:N gallery holding the person. It is written in the transaction
// of the change itself, so a committed change is never lost, and carries
// ids only (no template): a gallery reads the sealed template from the
// store by reference.
type GalleryChange struct {
	Seq      int64 // assigned by the store, increasing in commit order per writer
	Op       string
	Modality string // "" for every modality
	PersonID string
	Ref      string // "" for every reference of the person
	At       time.Time
}

// DedupSequence numbers, per modality, the additions of deduplication
// templates to the 1:N galleries (migration 0015): a template stored for
// deduplication, or one that counts again after a consent change, takes
// the next number of its modality (Biometric.DedupSeq). The registry makes
// every addition under its deduplication turn, so that numbers and commits
// come in the same order (internal/registry/turns.go); the store keeps the
// counter transactional (a row, not a database sequence, whose numbers are
// handed out before their commits and could be read ahead of them).
type DedupSequence interface {
	// DedupPoint returns the last number given in modality that is
	// committed (0 when none).
	DedupPoint(ctx context.Context, modality string) (int64, error)
	// NextDedupPoint gives the next number of modality (1 for the first):
	// the counter is incremented in this transaction.
	NextDedupPoint(ctx context.Context, modality string) (int64, error)
	// RenumberDedup sets the number of the person's deduplication
	// references of modality to seq and returns how many there were.
	RenumberDedup(ctx context.Context, personID, modality string, seq int64) (int, error)
	// DedupAddedAfter lists the deduplication references of modality whose
	// number is greater than after, in number order (then reference_id),
	// at most limit, with their DedupSeq. Persons are not filtered: the
	// caller decides whose consent counts.
	DedupAddedAfter(ctx context.Context, modality string, after int64, limit int) ([]Biometric, error)
}

// GalleryOutbox is the transactional outbox of gallery changes
// (gallery_changes), relayed to the gallery shards (internal/cluster).
type GalleryOutbox interface {
	// AppendGalleryChange records a change; its Seq is assigned here.
	AppendGalleryChange(ctx context.Context, c GalleryChange) error
	// PendingGalleryChanges lists the oldest changes not yet relayed, in
	// Seq order, at most limit. On PostgreSQL it first takes a
	// transaction-scoped advisory lock, so relays on several nodes take
	// turns and publish in order; call it in an Update.
	PendingGalleryChanges(ctx context.Context, limit int) ([]GalleryChange, error)
	// DeleteGalleryChanges deletes the changes with these Seqs (relayed).
	// Exactly these: a change with a lower Seq may commit after a higher
	// one was read, and must stay for the next round.
	DeleteGalleryChanges(ctx context.Context, seqs []int64) error
}
