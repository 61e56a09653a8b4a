package store

import (
	"context"
	"time"
)

// Area is an administrative area (region > district > area, any depth) with
// the target population the programme plans to reach, per age band and sex.
// Areas and targets are public planning data, not personal data.
type Area struct {
	Code       string
	Name       string
	ParentCode string // empty for a root
	Targets    []AreaTarget
	UpdatedAt  time.Time
}

// AreaTarget is the target population of one age band ("0-11", "65+") and sex.
type AreaTarget struct {
	AgeBand string
	Sex     string
	Target  int
}

// Areas is the area registry.
type Areas interface {
	// PutArea creates the area or replaces its name, parent and targets.
	PutArea(ctx context.Context, a Area) error
	// GetArea returns the area with its targets, or ErrNotFound.
	GetArea(ctx context.Context, code string) (Area, error)
	// ListAreas lists every area with its targets, by code.
	ListAreas(ctx context.Context) ([]Area, error)
}

// PersonStats is the statistics projection of one registered person: the
// unsealed fields aggregate reports group by. It holds no name and no full
// birth date; it is deleted with the person (ErasePerson) and when a person
// becomes an alias of another.
type PersonStats struct {
	PersonID  string
	AreaCode  string
	BirthYear int // 0 when unknown
	// BirthEstimated: the birth date was estimated (partial, or a full
	// date marked estimated).
	BirthEstimated bool
	Sex            string
	Site           string
	OperatorID     string
	RegisteredAt   time.Time
}

// StatsCount is one group of an aggregate: the grouping fields that apply
// are set, the others empty.
type StatsCount struct {
	AreaCode   string
	BirthYear  int
	Sex        string
	Site       string
	OperatorID string
	Category   string
	Purpose    string
	Decision   string
	Week       int64 // weeks since Monday 1970-01-05 (CountRegisteredPerWeek)
	N          int
}

// Period bounds an aggregate: From inclusive, To exclusive; a zero From means
// since the beginning.
type Period struct {
	From, To time.Time
}

// Statistics keeps the projection and computes aggregates in the database.
// Every aggregate counts only persons present in the projection (registered,
// not erased, not an alias) unless it says otherwise.
type Statistics interface {
	// PutPersonStats writes (inserts or replaces) one person's projection.
	PutPersonStats(ctx context.Context, s PersonStats) error
	// DeletePersonStats removes a person's projection (no error if absent).
	DeletePersonStats(ctx context.Context, personID string) error
	// CountRegistered groups persons registered before p.To by area, birth
	// year and sex.
	CountRegistered(ctx context.Context, p Period) ([]StatsCount, error)
	// CountRegisteredPerWeek groups persons registered in p by area and
	// week (Week: whole weeks since Monday 1970-01-05, UTC).
	CountRegisteredPerWeek(ctx context.Context, p Period) ([]StatsCount, error)
	// CountCheckedUp groups persons with at least one exam in p by area,
	// birth year and sex.
	CountCheckedUp(ctx context.Context, p Period) ([]StatsCount, error)
	// CountEnrolled groups persons holding at least one biometric reference
	// created before p.To by area and Category (the modality).
	CountEnrolled(ctx context.Context, p Period) ([]StatsCount, error)
	// CountAreaAnswers groups the consent answers recorded in p about persons
	// in the projection by the person's area, category, purpose and decision.
	CountAreaAnswers(ctx context.Context, p Period) ([]StatsCount, error)
	// CountSiteAnswers groups every consent answer recorded in p (erased
	// persons' answers included: the records stay) by site, operator,
	// category, purpose and decision.
	CountSiteAnswers(ctx context.Context, p Period) ([]StatsCount, error)
	// CountEarlyWithdrawals groups, by the site where each person was
	// registered, the persons (erased ones included) who withdrew a consent
	// in p within `within` of their registration.
	CountEarlyWithdrawals(ctx context.Context, p Period, within time.Duration) ([]StatsCount, error)

	// AddExclusionEvent records one exclusion event (no person).
	AddExclusionEvent(ctx context.Context, e ExclusionEvent) error
	// CountExclusions groups the exclusion events of p by site, category
	// and kind (Decision holds the kind).
	CountExclusions(ctx context.Context, p Period) ([]StatsCount, error)
	// CountCareWithoutBiometrics groups, by the exam's site, persons with
	// an exam in p and no biometric reference at all.
	CountCareWithoutBiometrics(ctx context.Context, p Period) ([]StatsCount, error)
	// PersonsToReproject lists, by id after `after`, up to limit persons
	// whose projection was written before migration 0011 (and may lack
	// what later versions record, such as the estimated birth date mark);
	// PutPersonStats makes a projection current.
	PersonsToReproject(ctx context.Context, after string, limit int) ([]string, error)
	// RebuildStatsCounts recomputes the pre-aggregated counts the
	// aggregates read (kept by the database in the same transaction as each
	// row they count) from the rows themselves, and returns how many count
	// rows differed. It reads everything: an offline maintenance step.
	RebuildStatsCounts(ctx context.Context) (int, error)
	// RegisterQuality counts the register's structural problems at asOf.
	RegisterQuality(ctx context.Context, asOf time.Time, majority int) (RegisterQuality, error)
}

// CountsRebuilder is an optional ability of a Store: rebuilding the report
// counts (Statistics.RebuildStatsCounts) in a transaction of its own kind.
// PostgreSQL uses REPEATABLE READ: a SERIALIZABLE transaction would hold a
// predicate lock on everything it reads, which is all of it. A write
// committed during the rebuild either survives it (a count the snapshot
// did not have) or makes it fail (a count it replaces): it never corrupts.
type CountsRebuilder interface {
	RebuildStatsCounts(ctx context.Context) (int, error)
}

// Exclusion event kinds.
const (
	ExclusionCaptureFailed = "capture_failed" // too poor to enrol
	ExclusionNoMatch       = "no_match"       // verification answered no match
	ExclusionNotEnrolled   = "not_enrolled"   // verification of a person without a template
)

// ExclusionEvent is one time a biometric system failed someone, as counts
// need it: where, which modality, what, when. No person.
type ExclusionEvent struct {
	Site, Category, Kind string
	At                   time.Time
}

// RegisterQuality are counts of the register's problems.
type RegisterQuality struct {
	HouseholdsWithoutHead int
	HeadsUnderAge         int // heads younger than the age of majority (by birth year)
	MinorsGuardianErased  int // minors whose guardian was erased
	EstimatedBirthDates   int // registered persons whose birth date was estimated
	// OpenCasesByAge counts open duplicate cases by days open: "0-6",
	// "7-29", "30+".
	OpenCasesByAge map[string]int
}
