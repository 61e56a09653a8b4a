package hugepage

import "testing"

// TestAdvise: advice on small, large and unaligned arrays, enabled or
// not, neither fails nor changes their contents.
func TestAdvise(t *testing.T) {
	defer func(e bool) { enabled = e }(enabled)
	for _, e := range []bool{false, true} {
		enabled = e
		Advise([]byte(nil))
		Advise(make([]byte, 100))
		s := make([]uint64, 3<<20)
		s[0], s[len(s)-1] = 1, 2
		Advise(s)
		Advise(s[5:7])
		if s[0] != 1 || s[len(s)-1] != 2 || s[1] != 0 {
			t.Fatal("contents changed")
		}
		for i := range s {
			s[i] = uint64(i)
		}
		if s[1<<20] != 1<<20 {
			t.Fatal("write lost")
		}
	}
}
