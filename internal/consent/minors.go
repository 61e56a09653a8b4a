package consent

import "time"

// Defaults of Config.
const (
	DefaultAgeOfMajority = 18
	DefaultGracePeriod   = 180 * 24 * time.Hour
)

// Config holds the policy's tunables. The zero value means the defaults.
type Config struct {
	// AgeOfMajority in whole years; 0 means DefaultAgeOfMajority.
	AgeOfMajority int
	// GracePeriod after majority during which guardian-given consents may still
	// be re-affirmed before the data they cover is erased; 0 means
	// DefaultGracePeriod. They stop counting for access at majority already.
	GracePeriod time.Duration
}

// WithDefaults returns c with zero fields replaced by the defaults.
func (c Config) WithDefaults() Config {
	if c.AgeOfMajority <= 0 {
		c.AgeOfMajority = DefaultAgeOfMajority
	}
	if c.GracePeriod <= 0 {
		c.GracePeriod = DefaultGracePeriod
	}
	return c
}

// MajorityDate returns the first instant (00:00 UTC) at which a person born on
// birthDate is of age: the anniversary of the birth date's calendar day (taken
// in UTC) ageOfMajority years later. A birth on 29 February comes of age on
// 1 March in a common year. ageOfMajority <= 0 means DefaultAgeOfMajority.
// The zero birthDate (unknown) gives the zero time.
func MajorityDate(birthDate time.Time, ageOfMajority int) time.Time {
	if birthDate.IsZero() {
		return time.Time{}
	}
	if ageOfMajority <= 0 {
		ageOfMajority = DefaultAgeOfMajority
	}
	y, m, d := birthDate.UTC().Date()
	return time.Date(y+ageOfMajority, m, d, 0, 0, 0, 0, time.UTC)
}

// IsMinor reports whether a person born on birthDate is under ageOfMajority
// years old at now. An unknown (zero) birth date counts as an adult: the
// registry cannot register a person without a birth date, and treating
// unknown as adult makes guardian answers stop counting rather than last
// forever. ageOfMajority <= 0 means DefaultAgeOfMajority.
func IsMinor(birthDate, now time.Time, ageOfMajority int) bool {
	if birthDate.IsZero() {
		return false
	}
	return now.Before(MajorityDate(birthDate, ageOfMajority))
}

// DueForErasure lists, in the order of Categories, the categories whose data
// must now be erased because their only basis is a guardian's consent that
// lapsed at the person's majority and was not re-affirmed within the grace
// period (majority + Config.GracePeriod <= Now).
//
// A category is due when it has at least one consent pair whose latest record
// is a guardian's grant, and none whose latest record is the person's own
// grant (expired or not: an expired own grant is a separate matter). Care
// categories (CareCategories) are never due: their data is held for care, and
// a lapsed research consent only stops research use (Decide denies it).
// When Identity is due the result is every category, Identity first: the
// person is to be erased entirely, as for a withdrawal of
// identity/registration (see AfterWithdrawal).
//
// An erased or unknown person, or one still a minor or within the grace
// period, has nothing due. Facts.Records must be the person's records.
func DueForErasure(facts Facts) []Category {
	if facts.Person.Erased || !facts.Person.Exists || facts.Person.BirthDate.IsZero() {
		return nil
	}
	cfg := facts.Config.WithDefaults()
	deadline := MajorityDate(facts.Person.BirthDate, cfg.AgeOfMajority).Add(cfg.GracePeriod)
	if facts.Now.Before(deadline) {
		return nil
	}
	state := State(facts.Records)
	var due []Category
	for _, c := range Categories {
		if c.IsCare() {
			continue
		}
		guardianGrant, ownGrant := false, false
		for _, p := range PurposesFor(c) {
			r, ok := state[Pair{c, p}]
			if !ok || r.Decision != Granted {
				continue
			}
			if r.ByGuardian() {
				guardianGrant = true
			} else {
				ownGrant = true
			}
		}
		if guardianGrant && !ownGrant {
			due = append(due, c)
		}
	}
	if len(due) > 0 && due[0] == Identity {
		return append([]Category(nil), Categories...)
	}
	return due
}
