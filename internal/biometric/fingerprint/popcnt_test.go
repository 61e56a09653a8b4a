package fingerprint

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestHammingRun: hammingRun (the assembly loop where the processor has
// POPCNT) and hammingRunGo give every cylinder's distance as the
// definition does, for runs of every length up to 40 and for equal,
// complementary and random cylinders.
func TestHammingRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	t.Logf("POPCNT kernel in use: %v", usePOPCNT)
	var a cylBits
	for i := range a {
		a[i] = rng.Uint64()
	}
	for n := range 41 {
		b := make([]cylBits, n)
		for k := range b {
			for i := range b[k] {
				switch k % 3 {
				case 0:
					b[k][i] = rng.Uint64()
				case 1:
					b[k][i] = a[i]
				case 2:
					b[k][i] = ^a[i]
				}
			}
		}
		for name, run := range map[string]func(*cylBits, []cylBits, []uint32){"hammingRun": hammingRun, "hammingRunGo": hammingRunGo} {
			out := make([]uint32, n+1)
			out[n] = 7777 // past the run: left alone
			run(&a, b, out)
			for k := range b {
				want := 0
				for i := range a {
					want += bits.OnesCount64(a[i] ^ b[k][i])
				}
				if int(out[k]) != want {
					t.Fatalf("%s, run of %d, cylinder %d: %d, want %d", name, n, k, out[k], want)
				}
			}
			if out[n] != 7777 {
				t.Fatalf("%s wrote past the run of %d", name, n)
			}
		}
	}
}
