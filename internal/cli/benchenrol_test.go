package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchDataDir: a kept bench directory is measured again or extended
// only with the seed and store that wrote it, never shrunk; a store left
// by a run that did not finish is refused.
func TestBenchDataDir(t *testing.T) {
	dir := t.TempDir()
	if _, st, err := benchDataDir(dir, 100, 1, "sqlite"); err != nil || st.People != 0 || st.Runs != 0 {
		t.Fatalf("new directory: %+v, %v", st, err)
	}
	if err := (benchState{People: 100, Seed: 1, Store: "sqlite", Runs: 1}).save(dir); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		people int
		seed   uint64
		where  string
		ok     bool
	}{
		{"same population", 100, 1, "sqlite", true},
		{"extended", 200, 1, "sqlite", true},
		{"fewer people", 50, 1, "sqlite", false},
		{"another seed", 100, 2, "sqlite", false},
		{"another store", 100, 1, "postgres:x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, st, err := benchDataDir(dir, tc.people, tc.seed, tc.where)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (st.People != 100 || st.Runs != 1) {
				t.Fatalf("state %+v, want the kept 100 people and 1 run", st)
			}
		})
	}
	// bench.json from before it named the store: SQLite.
	if err := os.WriteFile(filepath.Join(dir, "bench.json"), []byte(`{"people":100,"seed":1,"runs":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := benchDataDir(dir, 100, 1, "sqlite"); err != nil {
		t.Fatalf("bench.json without a store: %v", err)
	}
	// A store without bench.json: a run that did not finish.
	left := t.TempDir()
	if err := os.WriteFile(filepath.Join(left, "assent.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := benchDataDir(left, 100, 1, "sqlite"); err == nil {
		t.Fatal("a store without bench.json was accepted")
	}
}

// TestBenchEnrolRefusesBadFlags: nonsense sizes and writers are refused
// with one clear line, before anything is written.
func TestBenchEnrolRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--people", "-5"}, "--people -5: want at least 1"},
		{[]string{"--people", "10", "--probes", "-1"}, "--probes -1: want 0 or more"},
		{[]string{"--people", "10", "--populate", "nope"}, `--populate "nope": want fast or usecase`},
		{[]string{"--people", "10", "--keys", "bogus"}, `--keys "bogus": want mem, sqlite or a postgres:// URL`},
		{[]string{"--people", "10", "--populate-only"}, "--populate-only needs --data DIR"},
		{[]string{"--people", "10", "--sqlite-map", "-5"}, "--sqlite-map -5: give MiB, 0 or more"},
	} {
		code, out := run(append([]string{"bench", "enrol"}, tc.args...)...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("bench enrol %v: exit %d, output %q; want an error saying %q", tc.args, code, out, tc.want)
		}
	}
}

// TestBenchEnrolPopulateOnly: a population written in kept steps
// (--populate-only) is the population a single run writes: a later run
// measures it without writing, and finds the mates of its probes.
func TestBenchEnrolPopulateOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pop")
	for _, n := range []string{"30", "60"} {
		code, out := run("bench", "enrol", "--people", n, "--populate-only", "--data", dir, "--sqlite-map", "0")
		if code != 0 || !strings.Contains(out, "not loaded (--populate-only)") {
			t.Fatalf("--populate-only --people %s: exit %d, %s", n, code, out)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "bench.json"))
	if err != nil || !strings.Contains(string(raw), `"people":60`) || !strings.Contains(string(raw), `"runs":0`) {
		t.Fatalf("bench.json after two steps: %s, %v", raw, err)
	}
	code, out := run("bench", "enrol", "--people", "60", "--probes", "4", "--data", dir)
	if code != 0 || !strings.Contains(out, "kept from an earlier run") || !strings.Contains(out, "mates found:       2 of 2") {
		t.Fatalf("measuring the kept population: exit %d, %s", code, out)
	}
}
