package sqlite

import (
	"context"
	"strings"
	"testing"
)

// TestDedupAddedAfterUsesItsIndex: the window of additions a deduplicating
// capture compares 1:1 is read through the partial index of migration
// 0015, not by scanning every biometric row (a scan cost 200 ms a capture
// at 20,000 people).
func TestDedupAddedAfterUsesItsIndex(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir(), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.r.Query("EXPLAIN QUERY PLAN "+dedupAddedAfterSQL, "fingerprint", 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "biometrics_dedup_seq") {
		t.Errorf("query plan %q does not use biometrics_dedup_seq", p)
	}
}
