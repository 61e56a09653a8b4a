package consent

import (
	"testing"
	"time"
)

// t0 is a fixed instant the tests count from.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const pid = "0b6c2f2e-7d1a-4c39-9b1e-3f1f6a0c5d21"

// rec builds a valid record for the test person at t0+days.
func rec(c Category, p Purpose, d Decision, days int) Record {
	return Record{
		PersonID: pid, Category: c, Purpose: p, Decision: d,
		Method: "paper", NoticeVersion: "2026-01", Language: "en",
		OperatorID: "op-1", Site: "site-a",
		At: t0.AddDate(0, 0, days),
	}
}

func byGuardian(r Record, guardian string) Record { r.GuardianID = guardian; return r }

func expiring(r Record, at time.Time) Record { r.ExpiresAt = at; return r }

// adult is a person of 40 at t0.
func adult() Person {
	return Person{Exists: true, BirthDate: time.Date(1986, 5, 4, 0, 0, 0, 0, time.UTC)}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
