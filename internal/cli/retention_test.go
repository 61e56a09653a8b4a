package cli

import (
	"testing"
	"time"
)

func TestCareRetentionFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true}, {"90d", 90 * 24 * time.Hour, true}, {"36h", 36 * time.Hour, true},
		{"-1d", 0, false}, {"-2h", 0, false}, {"soon", 0, false}, {"1.5d", 0, false},
	} {
		var c careRetention
		err := c.Set(tc.in)
		if (err == nil) != tc.ok || (tc.ok && time.Duration(c) != tc.want) {
			t.Errorf("Set(%q) = %v, %v; want %v ok=%v", tc.in, time.Duration(c), err, tc.want, tc.ok)
		}
	}
	c := careRetention(90 * 24 * time.Hour)
	if c.String() != "90d" {
		t.Errorf("String() = %q", c.String())
	}
}
