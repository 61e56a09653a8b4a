// Package storetest is the conformance suite every store backend must pass.
// A backend's test calls Run with a function that opens a fresh, empty store.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// Run runs the suite. open must return a new empty store for each call.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SitesRoundTripAndConflict", testSites},
		{"OperatorsByKeyAndRevoke", testOperators},
		{"PersonsVersioningAndLookup", testPersons},
		{"HouseholdMembers", testHouseholds},
		{"ConsentHistoryAndCounts", testConsents},
		{"BatchReadsOfPersonsAndConsents", testBatchReads},
		{"ExamsAndCategoryDeletion", testExams},
		{"EraseLeavesTombstone", testErase},
		{"AuditAppendIsContiguous", testAudit},
		{"FailedUpdateLeavesNothing", testRollback},
		{"SpecimensAndCustody", testSpecimens},
		{"BiometricsPagingAndErasure", testBiometrics},
		{"CasesOpenOncePerPair", testCases},
		{"PendingSearchesTakenOnceAndErased", testPendingSearches},
		{"ImportLinesOnce", testImports},
		{"CasesCounted", testCountCases},
		{"PersonNumbersUniqueAndKept", testPersonNumbers},
		{"OperatorLogins", testOperatorLogins},
		{"OperatorTOTP", testOperatorTOTP},
		{"AliasesAndCareRetention", testRights},
		{"AreasReplaceTargets", testAreas},
		{"StatisticsProjectionAggregates", testStatistics},
		{"RegistrationsPerWeek", testWeekly},
		{"StatsCountsKeptAndRebuilt", testStatsCountsRandom},
		{"ExclusionAndRegisterQuality", testExclusionAndQuality},
		{"IdentifiersOncePerSystemAndErased", testIdentifiers},
		{"GalleryOutbox", testGalleryOutbox},
		{"DedupSequenceInCommitOrder", testDedupSequence},
		{"SessionsExpireAndCascade", testSessions},
		{"SessionsEndWithErasure", testSessionsErased},
		{"CountersRoundTripAndPrune", testCounters},
		{"LeaseOneHolderAtATime", testLeases},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func testSites(t *testing.T, s store.Store) {
	ctx := context.Background()
	want := store.Site{Code: "s1", Name: "Clinic", AreaCode: "A1", CreatedAt: t0}
	update(t, s, func(tx store.Tx) error { return tx.CreateSite(ctx, want) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.CreateSite(ctx, want) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate site: got %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetSite(ctx, "s1")
		if err != nil {
			return err
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("site (-want +got):\n%s", d)
		}
		if _, err := tx.GetSite(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing site: got %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testOperators(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := store.Operator{ID: "op1", Role: "registrar", Site: "s1", Name: "R", KeyMAC: []byte{1, 2, 3}, CreatedAt: t0}
	update(t, s, func(tx store.Tx) error { return tx.CreateOperator(ctx, o) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.OperatorByKeyMAC(ctx, []byte{1, 2, 3})
		if err != nil {
			return err
		}
		if d := cmp.Diff(o, got); d != "" {
			t.Errorf("operator (-want +got):\n%s", d)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.RevokeOperator(ctx, "op1", t0.Add(time.Hour)) })
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.OperatorByKeyMAC(ctx, []byte{1, 2, 3}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked key: got %v, want ErrNotFound", err)
		}
		ops, err := tx.ListOperators(ctx)
		if err != nil {
			return err
		}
		if len(ops) != 1 || ops[0].RevokedAt == nil {
			t.Errorf("list after revoke: %+v", ops)
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.RevokeOperator(ctx, "op1", t0) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: got %v, want ErrNotFound", err)
	}
}

func person(id string) store.Person {
	return store.Person{ID: id, Status: store.StatusActive, AreaCode: "A1", Site: "s1", Version: 1,
		IdentitySealed: []byte("sealed-" + id), LookupIndex: []byte("nb"), CreatedAt: t0, UpdatedAt: t0}
}

func testPersons(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := person("p1")
	update(t, s, func(tx store.Tx) error { return tx.CreatePerson(ctx, p) })
	p2 := p
	p2.Version = 2
	p2.IdentitySealed = []byte("new")
	p2.UpdatedAt = t0.Add(time.Minute)
	update(t, s, func(tx store.Tx) error {
		if err := tx.AddPersonVersion(ctx, store.PersonVersion{PersonID: "p1", Version: 1, IdentitySealed: p.IdentitySealed, AreaCode: "A1", ChangedAt: p2.UpdatedAt, ChangedBy: "op1"}); err != nil {
			return err
		}
		return tx.UpdatePerson(ctx, p2)
	})
	// A stale writer (version 2 again) must conflict.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdatePerson(ctx, p2) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale update: got %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetPerson(ctx, "p1")
		if err != nil {
			return err
		}
		if d := cmp.Diff(p2, got); d != "" {
			t.Errorf("person (-want +got):\n%s", d)
		}
		vs, err := tx.PersonVersions(ctx, "p1")
		if err != nil {
			return err
		}
		if len(vs) != 1 || string(vs[0].IdentitySealed) != "sealed-p1" {
			t.Errorf("versions: %+v", vs)
		}
		ids, err := tx.FindPersons(ctx, []byte("nb"))
		if err != nil {
			return err
		}
		if d := cmp.Diff([]string{"p1"}, ids); d != "" {
			t.Errorf("find (-want +got):\n%s", d)
		}
		if ids, _ := tx.FindPersons(ctx, []byte("nx")); len(ids) != 0 {
			t.Errorf("find with other birth index: %v", ids)
		}
		return nil
	})
}

func testHouseholds(t *testing.T, s store.Store) {
	ctx := context.Background()
	h := store.Household{ID: "h1", AreaCode: "A1", AddressSealed: []byte("addr"), CreatedAt: t0, UpdatedAt: t0}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateHousehold(ctx, h); err != nil {
			return err
		}
		for _, id := range []string{"a", "b"} {
			p := person(id)
			p.HouseholdID = "h1"
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
		}
		h.HeadID = "a"
		return tx.UpdateHousehold(ctx, h)
	})
	view(t, s, func(tx store.Tx) error {
		got, err := tx.GetHousehold(ctx, "h1")
		if err != nil {
			return err
		}
		if got.HeadID != "a" {
			t.Errorf("head = %q, want a", got.HeadID)
		}
		ms, err := tx.HouseholdMembers(ctx, "h1")
		if err != nil {
			return err
		}
		if len(ms) != 2 {
			t.Errorf("members = %d, want 2", len(ms))
		}
		return nil
	})
}

func testConsents(t *testing.T, s store.Store) {
	ctx := context.Background()
	rec := func(p, c, d string, at time.Time) store.ConsentRecord {
		return store.ConsentRecord{PersonID: p, Category: c, Purpose: "verification", Decision: d, Method: "paper",
			NoticeVersion: "v1", Language: "en", Site: "s1", At: at}
	}
	update(t, s, func(tx store.Tx) error {
		for _, r := range []store.ConsentRecord{
			rec("p1", "iris", "granted", t0), rec("p1", "iris", "withdrawn", t0.Add(time.Hour)),
			rec("p2", "iris", "granted", t0), rec("p2", "face", "declined", t0),
		} {
			if _, err := tx.AppendConsent(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		h, err := tx.ConsentHistory(ctx, "p1")
		if err != nil {
			return err
		}
		if len(h) != 2 || h[0].Decision != "granted" || h[1].Decision != "withdrawn" || h[0].Seq >= h[1].Seq {
			t.Errorf("history: %+v", h)
		}
		counts, err := tx.ConsentCounts(ctx)
		if err != nil {
			return err
		}
		want := []store.ConsentCount{
			{Site: "s1", Category: "face", Decision: "declined", N: 1},
			{Site: "s1", Category: "iris", Decision: "granted", N: 1},
			{Site: "s1", Category: "iris", Decision: "withdrawn", N: 1},
		}
		if d := cmp.Diff(want, counts); d != "" {
			t.Errorf("counts (-want +got):\n%s", d)
		}
		return nil
	})
}

func testExams(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		return tx.AddExam(ctx, store.Exam{ID: "e1", PersonID: "p1", FindingsSealed: []byte("f"), BloodTypeSealed: []byte("b"), At: t0})
	})
	view(t, s, func(tx store.Tx) error {
		if pid, err := tx.ExamPerson(ctx, "e1"); err != nil || pid != "p1" {
			t.Errorf("ExamPerson(e1) = %q, %v", pid, err)
		}
		if _, err := tx.ExamPerson(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ExamPerson(unknown): %v, want ErrNotFound", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteExamCategory(ctx, "p1", "blood_type") })
	view(t, s, func(tx store.Tx) error {
		es, err := tx.ListExams(ctx, "p1")
		if err != nil {
			return err
		}
		if len(es) != 1 || es[0].BloodTypeSealed != nil || string(es[0].FindingsSealed) != "f" {
			t.Errorf("after deleting blood type: %+v", es)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteExamCategory(ctx, "p1", "health") })
	view(t, s, func(tx store.Tx) error {
		es, err := tx.ListExams(ctx, "p1")
		if len(es) != 0 {
			t.Errorf("after deleting health: %+v", es)
		}
		return err
	})
}

func testErase(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreatePerson(ctx, person("p1")); err != nil {
			return err
		}
		return tx.AddExam(ctx, store.Exam{ID: "e1", PersonID: "p1", At: t0})
	})
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0.Add(time.Hour)) })
	view(t, s, func(tx store.Tx) error {
		p, err := tx.GetPerson(ctx, "p1")
		if err != nil {
			return err
		}
		if p.Status != store.StatusErased || p.IdentitySealed != nil || p.LookupIndex != nil {
			t.Errorf("tombstone keeps data: %+v", p)
		}
		es, _ := tx.ListExams(ctx, "p1")
		if len(es) != 0 {
			t.Errorf("exams survive erasure: %d", len(es))
		}
		return nil
	})
	// The id is never reused.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreatePerson(ctx, person("p1")) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("reusing an erased id: got %v, want ErrConflict", err)
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 5 {
		update(t, s, func(tx store.Tx) error {
			idx, err := tx.AppendAudit(ctx, "p1", []byte{byte(i)}, []byte{byte(100 + i)})
			if err == nil && idx != uint64(i) {
				t.Errorf("append %d got index %d", i, idx)
			}
			return err
		})
	}
	update(t, s, func(tx store.Tx) error { return tx.SaveCheckpoint(ctx, 5, []byte("note5"), t0) })
	view(t, s, func(tx store.Tx) error {
		n, err := tx.AuditSize(ctx)
		if err != nil || n != 5 {
			t.Errorf("size = %d, %v", n, err)
		}
		hs, err := tx.AuditLeafHashes(ctx, 3, 10)
		if err != nil {
			return err
		}
		if d := cmp.Diff([][]byte{{103}, {104}}, hs); d != "" {
			t.Errorf("leaf hashes (-want +got):\n%s", d)
		}
		rows, err := tx.AuditRowsForPerson(ctx, "p1", 2)
		if err != nil || len(rows) != 2 || rows[1].Index != 1 {
			t.Errorf("rows for person: %+v %v", rows, err)
		}
		size, note, err := tx.LatestCheckpoint(ctx)
		if err != nil || size != 5 || string(note) != "note5" {
			t.Errorf("latest checkpoint: %d %q %v", size, note, err)
		}
		return nil
	})
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreatePerson(ctx, person("p1")); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, "p1", []byte("x"), []byte("y")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetPerson(ctx, "p1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("person survived rollback: %v", err)
		}
		if n, _ := tx.AuditSize(ctx); n != 0 {
			t.Errorf("audit survived rollback: %d", n)
		}
		return nil
	})
}

func testSpecimens(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		if err := tx.AddSpecimen(ctx, store.Specimen{ID: "sp1", PersonID: "p1", Sealed: []byte("a"), CreatedAt: t0, UpdatedAt: t0}); err != nil {
			return err
		}
		for i := range 2 {
			if _, err := tx.AddSpecimenEvent(ctx, store.SpecimenEvent{SpecimenID: "sp1", PersonID: "p1", Sealed: []byte{byte(i)}, At: t0}); err != nil {
				return err
			}
		}
		return tx.UpdateSpecimen(ctx, store.Specimen{ID: "sp1", Sealed: []byte("b"), UpdatedAt: t0.Add(time.Hour)})
	})
	view(t, s, func(tx store.Tx) error {
		sp, err := tx.GetSpecimen(ctx, "sp1")
		if err != nil || string(sp.Sealed) != "b" {
			t.Errorf("specimen: %+v %v", sp, err)
		}
		evs, err := tx.SpecimenEvents(ctx, "sp1")
		if err != nil || len(evs) != 2 || evs[0].Seq >= evs[1].Seq {
			t.Errorf("events: %+v %v", evs, err)
		}
		list, err := tx.ListSpecimens(ctx, "p1")
		if err != nil || len(list) != 1 {
			t.Errorf("list: %+v %v", list, err)
		}
		return nil
	})
}

func testBiometrics(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"p1", "p2"} {
			if err := tx.CreatePerson(ctx, person(id)); err != nil {
				return err
			}
		}
		for i, b := range []store.Biometric{
			{ReferenceID: "r1", PersonID: "p1", Category: "fingerprint", Position: "right_index", Format: "image", Purpose: "deduplication", TemplateSealed: []byte{1}},
			{ReferenceID: "r2", PersonID: "p1", Category: "iris", Position: "left_eye", Format: "image", Purpose: "deduplication", TemplateSealed: []byte{2}},
			{ReferenceID: "r3", PersonID: "p2", Category: "fingerprint", Position: "left_thumb", Format: "iso19794-2", Purpose: "verification", TemplateSealed: []byte{3}},
		} {
			b.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			if err := tx.AddBiometric(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	page := func(after string, limit int) []string {
		var ids []string
		view(t, s, func(tx store.Tx) error {
			bs, err := tx.BiometricsPage(ctx, "fingerprint", after, limit)
			for _, b := range bs {
				ids = append(ids, b.ReferenceID)
			}
			return err
		})
		return ids
	}
	if d := cmp.Diff([]string{"r1", "r3"}, page("", 10)); d != "" {
		t.Errorf("page (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"r3"}, page("r1", 10)); d != "" {
		t.Errorf("page after r1 (-want +got):\n%s", d)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteBiometrics(ctx, "p1", "fingerprint") })
	if d := cmp.Diff([]string{"r3"}, page("", 10)); d != "" {
		t.Errorf("after deleting p1's fingerprints (-want +got):\n%s", d)
	}
	// An alias (merged into another person) leaves the gallery listing.
	update(t, s, func(tx store.Tx) error {
		p, err := tx.GetPerson(ctx, "p2")
		if err != nil {
			return err
		}
		p.AliasOf, p.Version = "p1", p.Version+1
		return tx.UpdatePerson(ctx, p)
	})
	if got := page("", 10); len(got) != 0 {
		t.Errorf("an alias's templates are still listed: %v", got)
	}
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0) })
	view(t, s, func(tx store.Tx) error {
		bs, err := tx.ListBiometrics(ctx, "p1")
		if err != nil || len(bs) != 0 {
			t.Errorf("an erased person keeps %d biometric references (%v)", len(bs), err)
		}
		return nil
	})
}

func testCases(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		first, err := tx.OpenCase(ctx, store.Case{ID: "c1", PersonA: "a", PersonB: "b", Score: 10, Modalities: "fingerprint", CreatedAt: t0})
		if err != nil {
			return err
		}
		again, err := tx.OpenCase(ctx, store.Case{ID: "c2", PersonA: "a", PersonB: "b", Score: 30, Modalities: "iris", CreatedAt: t0})
		if err != nil {
			return err
		}
		if first.Status != store.CaseOpen || again.ID != "c1" || again.Score != 30 || again.Modalities != "fingerprint,iris" {
			t.Errorf("second hit on an open pair: %+v", again)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		open, err := tx.ListCases(ctx, store.CaseOpen, 10)
		if err != nil || len(open) != 1 {
			t.Errorf("open cases: %+v %v", open, err)
		}
		return nil
	})
	at := t0.Add(time.Hour)
	update(t, s, func(tx store.Tx) error {
		return tx.DecideCase(ctx, store.Case{ID: "c1", Decision: "different", Note: "twins", DecidedBy: "adj", DecidedAt: &at})
	})
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.DecideCase(ctx, store.Case{ID: "c1", Decision: "same", DecidedAt: &at})
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("deciding twice: %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		c, err := tx.GetCase(ctx, "c1")
		if err != nil || c.Status != store.CaseDecided || c.Decision != "different" || c.DecidedAt == nil {
			t.Errorf("decided case: %+v %v", c, err)
		}
		cs, err := tx.CasesOf(ctx, "b")
		if err != nil || len(cs) != 1 {
			t.Errorf("cases of b: %+v %v", cs, err)
		}
		return nil
	})
	// A decided pair can be opened again by a later match.
	update(t, s, func(tx store.Tx) error {
		c, err := tx.OpenCase(ctx, store.Case{ID: "c3", PersonA: "a", PersonB: "b", Score: 5, CreatedAt: t0})
		if err == nil && c.ID != "c3" {
			t.Errorf("reopened pair reused a decided case: %+v", c)
		}
		return err
	})
}

func testImports(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error { return tx.RecordImport(ctx, "f:1", "p1", t0) })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.RecordImport(ctx, "f:1", "p2", t0) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a line imported twice: %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		id, err := tx.ImportedPerson(ctx, "f:1")
		if err != nil || id != "p1" {
			t.Errorf("imported person: %q %v", id, err)
		}
		if _, err := tx.ImportedPerson(ctx, "f:2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown line: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testPersonNumbers(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b, c := person("p1"), person("p2"), person("p3")
	a.Number, b.Number = "48210937563", "12345678902"
	update(t, s, func(tx store.Tx) error {
		for _, p := range []store.Person{a, b, c} { // c has no number: allowed, and not unique
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
		}
		return nil
	})
	dup := person("p4")
	dup.Number = a.Number
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.CreatePerson(ctx, dup) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second person with the same number: got %v, want ErrConflict", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0) })
	view(t, s, func(tx store.Tx) error {
		got, err := tx.PersonByNumber(ctx, b.Number)
		if err != nil || got.ID != "p2" || got.Number != b.Number {
			t.Errorf("by number: %+v, %v", got, err)
		}
		// The tombstone keeps its number, so it is never handed out again.
		got, err = tx.PersonByNumber(ctx, a.Number)
		if err != nil || got.ID != "p1" || got.Status != store.StatusErased {
			t.Errorf("erased by number: %+v, %v", got, err)
		}
		if _, err := tx.PersonByNumber(ctx, "00000000000"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown number: got %v, want ErrNotFound", err)
		}
		if got, _ := tx.GetPerson(ctx, "p3"); got.Number != "" {
			t.Errorf("person without number reads back %q", got.Number)
		}
		return nil
	})
}

func testRights(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"a", "b", "c", "d"} {
			if err := tx.CreatePerson(ctx, person(id)); err != nil {
				return err
			}
		}
		for _, id := range []string{"c", "b"} {
			p, err := tx.GetPerson(ctx, id)
			if err != nil {
				return err
			}
			p.AliasOf, p.Version = "a", p.Version+1
			if err := tx.UpdatePerson(ctx, p); err != nil {
				return err
			}
		}
		for _, id := range []string{"a", "b", "d"} {
			if err := tx.AddExam(ctx, store.Exam{ID: "e-" + id, PersonID: id, FindingsSealed: []byte("f"), At: t0}); err != nil {
				return err
			}
			if err := tx.AddSpecimen(ctx, store.Specimen{ID: "sp-" + id, PersonID: id, Sealed: []byte("s"), CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			if _, err := tx.AddSpecimenEvent(ctx, store.SpecimenEvent{SpecimenID: "sp-" + id, PersonID: id, Sealed: []byte("e"), At: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		got, err := tx.AliasesOf(ctx, "a")
		if err != nil || len(got) != 2 || got[0] != "b" || got[1] != "c" {
			t.Errorf("AliasesOf(a) = %v %v, want [b c]", got, err)
		}
		got, err = tx.AliasesOf(ctx, "d")
		if err != nil || len(got) != 0 {
			t.Errorf("AliasesOf(d) = %v %v, want none", got, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.ErasePersonKeepCare(ctx, "b", t0.Add(time.Hour)) })
	update(t, s, func(tx store.Tx) error { return tx.ErasePersonKeepCare(ctx, "d", t0.Add(3*time.Hour)) })
	view(t, s, func(tx store.Tx) error {
		p, err := tx.GetPerson(ctx, "b")
		if err != nil || p.Status != store.StatusErased || p.IdentitySealed != nil || !p.UpdatedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("tombstone: %+v %v", p, err)
		}
		es, _ := tx.ListExams(ctx, "b")
		sps, _ := tx.ListSpecimens(ctx, "b")
		evs, _ := tx.SpecimenEvents(ctx, "sp-b")
		if len(es) != 1 || len(sps) != 1 || len(evs) != 1 {
			t.Errorf("care rows kept: %d exams, %d specimens, %d events; want 1 each", len(es), len(sps), len(evs))
		}
		ids, err := tx.ErasedWithCareData(ctx, t0.Add(2*time.Hour), 10)
		if err != nil || len(ids) != 1 || ids[0] != "b" {
			t.Errorf("ErasedWithCareData(before +2h) = %v %v, want [b]", ids, err)
		}
		ids, err = tx.ErasedWithCareData(ctx, t0.Add(4*time.Hour), 1)
		if err != nil || len(ids) != 1 || ids[0] != "b" {
			t.Errorf("ErasedWithCareData(before +4h, limit 1) = %v %v, want [b]", ids, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteCareData(ctx, "b") })
	view(t, s, func(tx store.Tx) error {
		es, _ := tx.ListExams(ctx, "b")
		sps, _ := tx.ListSpecimens(ctx, "b")
		evs, _ := tx.SpecimenEvents(ctx, "sp-b")
		if len(es)+len(sps)+len(evs) != 0 {
			t.Errorf("after DeleteCareData: %d exams, %d specimens, %d events", len(es), len(sps), len(evs))
		}
		if es, _ := tx.ListExams(ctx, "a"); len(es) != 1 {
			t.Errorf("another person's exams went too")
		}
		ids, err := tx.ErasedWithCareData(ctx, t0.Add(4*time.Hour), 10)
		if err != nil || len(ids) != 1 || ids[0] != "d" {
			t.Errorf("ErasedWithCareData after deleting b's = %v %v, want [d]", ids, err)
		}
		return nil
	})
}
