package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSetSpec(t *testing.T) {
	for _, c := range []struct {
		spec string
		dir  string
		dpi  int
		bad  bool
	}{
		{"/d/fvc2000/db1_b", "/d/fvc2000/db1_b", 500, false},
		{"/d/fvc2002/db2_b", "/d/fvc2002/db2_b", 569, false},
		{"/d/fvc2002/db2_b/", "/d/fvc2002/db2_b/", 569, false},
		{"/d/x:1000", "/d/x", 1000, false},
		{"/d/x@569", "/d/x", 569, false},
		{"/d/x:abc", "", 0, true},
		{"/d/x:50", "", 0, true},
	} {
		dir, dpi, err := setSpec(c.spec)
		if (err != nil) != c.bad || (!c.bad && (dir != c.dir || dpi != c.dpi)) {
			t.Errorf("setSpec(%q) = %q, %d, %v; want %q, %d, error %v", c.spec, dir, dpi, err, c.dir, c.dpi, c.bad)
		}
	}
}

func TestReadSameEyes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "same.txt")
	if err := os.WriteFile(p, []byte("# comment\n008_L 042_L  # 50/50\n\n012_L\t176_L\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readSameEyes(p)
	if err != nil || len(got) != 2 || got[0] != [2]string{"008_L", "042_L"} || got[1] != [2]string{"012_L", "176_L"} {
		t.Fatalf("readSameEyes = %v, %v", got, err)
	}
	if err := os.WriteFile(p, []byte("a b c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readSameEyes(p); err == nil {
		t.Error("a line of three names was accepted")
	}
	// Only pairs whose two folders exist in a set apply to it.
	for _, d := range []string{"008_L", "042_L", "012_L"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in := pairsIn(dir, [][2]string{{"008_L", "042_L"}, {"012_L", "176_L"}})
	if len(in) != 1 || in[0] != [2]string{"008_L", "042_L"} {
		t.Errorf("pairsIn = %v, want only 008_L~042_L", in)
	}
}
