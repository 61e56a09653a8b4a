package consent

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func n(v int) *int { return &v }

func TestConsentStats(t *testing.T) {
	tests := []struct {
		name     string
		counts   []Count
		minCell  int
		allMin   int
		want     []Cell
		wantFlag []string
	}{
		{"empty", nil, 10, 30, []Cell{}, []string{}},
		{"small cells suppressed, zero shown", []Count{
			{"a", Face, Granted, 40}, {"a", Face, Declined, 3},
		}, 10, 30, []Cell{{Site: "a", Category: Face, Granted: n(40), Declined: nil, Withdrawn: n(0)}}, []string{}},
		{"exactly the minimum is shown", []Count{
			{"a", Face, Granted, 10}, {"a", Face, Declined, 10}, {"a", Face, Withdrawn, 9},
		}, 10, 30, []Cell{{Site: "a", Category: Face, Granted: n(10), Declined: n(10), Withdrawn: nil}}, []string{}},
		{"entries are summed", []Count{
			{"a", Iris, Declined, 6}, {"a", Iris, Declined, 6}, {"a", Iris, Granted, 50},
		}, 10, 30, []Cell{{Site: "a", Category: Iris, Granted: n(50), Declined: n(12), Withdrawn: n(0)}}, []string{}},
		{"all granted over the minimum is flagged", []Count{
			{"b", Face, Granted, 20}, {"b", Iris, Granted, 20}, {"b", Iris, Withdrawn, 2},
			{"a", Face, Granted, 100}, {"a", Face, Declined, 1},
		}, 10, 30, []Cell{
			{Site: "a", Category: Face, Granted: n(100), Declined: nil, Withdrawn: n(0)},
			{Site: "b", Category: Face, Granted: n(20), Declined: n(0), Withdrawn: n(0)},
			{Site: "b", Category: Iris, Granted: n(20), Declined: n(0), Withdrawn: nil},
		}, []string{"b"}},
		{"all granted under the minimum is not flagged", []Count{{"c", Face, Granted, 29}}, 10, 30,
			[]Cell{{Site: "c", Category: Face, Granted: n(29), Declined: n(0), Withdrawn: n(0)}}, []string{}},
		{"defaults", []Count{{"c", Face, Granted, 30}, {"c", Iris, Granted, 9}}, 0, 0,
			[]Cell{
				{Site: "c", Category: Face, Granted: n(30), Declined: n(0), Withdrawn: n(0)},
				{Site: "c", Category: Iris, Granted: nil, Declined: n(0), Withdrawn: n(0)},
			}, []string{"c"}},
		{"unknown values skipped", []Count{{"c", "religion", Granted, 30}, {"c", Face, "maybe", 30}, {"c", Face, Granted, -5}}, 10, 30,
			[]Cell{}, []string{}},
		{"cells ordered by site then category", []Count{
			{"b", Health, Granted, 11}, {"b", Identity, Granted, 11}, {"a", DNA, Declined, 11},
		}, 10, 100, []Cell{
			{Site: "a", Category: DNA, Granted: n(0), Declined: n(11), Withdrawn: n(0)},
			{Site: "b", Category: Identity, Granted: n(11), Declined: n(0), Withdrawn: n(0)},
			{Site: "b", Category: Health, Granted: n(11), Declined: n(0), Withdrawn: n(0)},
		}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ConsentStats(tt.counts, tt.minCell, tt.allMin)
			if d := cmp.Diff(tt.want, got.Cells); d != "" {
				t.Errorf("cells (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantFlag, got.FlaggedSites); d != "" {
				t.Errorf("flagged sites (-want +got):\n%s", d)
			}
		})
	}
}
