package imagefmt

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fingerFormats = []Format{TIFF, BMP, PNG}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecode(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 2000}
	tests := []struct {
		name    string
		file    string
		allowed []Format
		want    error
	}{
		{"png", "tiny.png", fingerFormats, nil},
		{"bmp", "tiny.bmp", fingerFormats, nil},
		{"tiff", "tiny.tif", fingerFormats, nil},
		{"jpeg refused for fingerprints", "eye100.jpg", fingerFormats, ErrFormat},
		{"gif refused everywhere", "eye100.gif", []Format{PNG, BMP, TIFF, JPEG}, ErrFormat},
		{"jpeg allowed for faces", "eye100.jpg", []Format{JPEG, PNG}, nil},
		{"bmp refused for faces", "tiny.bmp", []Format{JPEG, PNG}, ErrFormat},
		{"huge image from its header", "stripes4000.png", fingerFormats, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(read(t, tc.file), tc.allowed, lim)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Decode(%s) = %v, want %v", tc.file, err, tc.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	png := read(t, "eye100.png") // 100 x 100
	tests := []struct {
		name string
		lim  Limits
		want error
	}{
		{"within", Limits{MaxBytes: 1 << 20, MaxPixels: 10_000}, nil},
		{"pixels", Limits{MaxBytes: 1 << 20, MaxPixels: 9_999}, ErrTooLarge},
		{"side", Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 99}, ErrTooLarge},
		{"bytes", Limits{MaxBytes: len(png) - 1, MaxPixels: 1 << 20}, ErrTooLarge},
		{"small", Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MinSide: 101}, ErrTooSmall},
		{"unset limits refuse", Limits{}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Decode(png, []Format{PNG}, tc.lim)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A 21 KB PNG declaring 4000 x 4000 pixels is refused from its header, in
// far less time than decoding it would take.
func TestHugeImageRefusedFast(t *testing.T) {
	data := read(t, "stripes4000.png")
	start := time.Now()
	_, _, err := Decode(data, fingerFormats, Limits{MaxBytes: 4 << 20, MaxPixels: 4_000_000})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if d := time.Since(start); d > 20*time.Millisecond {
		t.Fatalf("refusal took %v", d)
	}
}

func FuzzDecode(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			f.Add(read(f, e.Name()))
		}
	}
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 2000, MinSide: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, format, err := Decode(data, []Format{PNG, BMP, TIFF, JPEG}, lim)
		if err != nil {
			return
		}
		b := img.Bounds()
		if int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels || b.Dx() > lim.MaxSide || b.Dy() > lim.MaxSide || b.Dx() < lim.MinSide || b.Dy() < lim.MinSide {
			t.Fatalf("accepted a %v %s image", b, format)
		}
		if Sniff(data) != format {
			t.Fatalf("decoded as %s, sniffed as %s", format, Sniff(data))
		}
	})
}

func BenchmarkDecodePNG(b *testing.B) {
	data := read(b, "tiny.png")
	for b.Loop() {
		if _, _, err := Decode(data, fingerFormats, Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoGlobalImageRegistry keeps capture decoding off the image package's
// global registry: production code never calls image.Decode or
// image.DecodeConfig (any imported decoder, JPEG or GIF included, would
// then be accepted), and never imports a decoder for its side effect.
func TestNoGlobalImageRegistry(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if im.Name != nil && im.Name.Name == "_" && (strings.HasPrefix(p, "image/") || strings.HasPrefix(p, "golang.org/x/image/")) {
				t.Errorf("%s: blank import of %s registers a decoder globally", path, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "image" && (sel.Sel.Name == "Decode" || sel.Sel.Name == "DecodeConfig") {
				t.Errorf("%s: image.%s decodes through the global registry; use imagefmt", path, sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
