package fingerprint

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// loadTwo extracts two impressions of one finger from the shared data.
func loadTwo(b *testing.B) (*Template, *Template) {
	b.Helper()
	dir := filepath.Join(dataDir(b), "fvc2002", "db1_b")
	var ts []*Template
	for _, n := range []string{"101_1.tif", "101_2.tif"} {
		raw, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			b.Fatal(err)
		}
		img, err := DecodeImage(raw)
		if err != nil {
			b.Fatal(err)
		}
		t, err := Extract(img, 500)
		if err != nil {
			b.Fatal(err)
		}
		ts = append(ts, t)
	}
	return ts[0], ts[1]
}

func BenchmarkMatch(b *testing.B) {
	x, y := loadTwo(b)
	var s scratch
	for b.Loop() {
		match(&x.cyl, &y.cyl, &s)
	}
}

func BenchmarkExtract(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(dataDir(b), "fvc2002", "db1_b", "101_1.tif"))
	if err != nil {
		b.Fatal(err)
	}
	img, err := DecodeImage(raw)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Extract(img, 500); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchSet scores every pair of FVC2002 DB1_B; ns/op divided by 3160
// is the time of one comparison.
func BenchmarkMatchSet(b *testing.B) {
	imps, err := ListDataset(filepath.Join(dataDir(b), "fvc2002", "db1_b"))
	if err != nil {
		b.Fatal(err)
	}
	ts := make([]*Template, len(imps))
	for i, im := range imps {
		raw, err := os.ReadFile(im.Path)
		if err != nil {
			b.Fatal(err)
		}
		img, err := DecodeImage(raw)
		if err != nil {
			b.Fatal(err)
		}
		ts[i], _ = Extract(img, 500)
	}
	for b.Loop() {
		PairScores(imps, ts)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/3160, "ns/comparison")
}

// BenchmarkSearch scans a gallery of 2,000 jittered copies of FVC2002 DB1_B
// templates with one probe per iteration; ns/op divided by 2,000 is the time
// of one comparison on all cores.
func BenchmarkSearch(b *testing.B) {
	imps, err := ListDataset(filepath.Join(dataDir(b), "fvc2002", "db1_b"))
	if err != nil {
		b.Fatal(err)
	}
	g := NewGallery()
	var probes []*Template
	for i, im := range imps {
		raw, err := os.ReadFile(im.Path)
		if err != nil {
			b.Fatal(err)
		}
		img, err := DecodeImage(raw)
		if err != nil {
			b.Fatal(err)
		}
		t, err := Extract(img, 500)
		if err != nil {
			continue
		}
		probes = append(probes, t)
		for k := range 25 {
			g.Add(fmt.Sprint(i, "/", k), t)
		}
	}
	i := 0
	for b.Loop() {
		if _, err := g.Search(context.Background(), probes[i%len(probes)], DefaultThreshold(), SearchOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(g.Len()), "ns/comparison")
}

// BenchmarkBuildCylinders measures building the cylinder codes of a
// 47-minutia template (what decoding a stored template costs).
func BenchmarkBuildCylinders(b *testing.B) {
	r := rand.New(rand.NewPCG(25, 26))
	var ms []Minutia
	for range 47 {
		ms = append(ms, Minutia{X: float32(40 + r.Float64()*220), Y: float32(40 + r.Float64()*320),
			Dir: float32(r.Float64() * 2 * math.Pi), Type: 1, Quality: 50})
	}
	for b.Loop() {
		buildCylinders(ms)
	}
}
