package report

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

// TestHTMLPagesCarryWellFormedCharts: every report renders as one page whose
// SVG charts are well-formed XML with a bar per area or site, the flagged
// site marked, and nothing loaded from elsewhere.
func TestHTMLPagesCarryWellFormedCharts(t *testing.T) {
	tg := map[[2]string]int{{"18-64", "female"}: 20, {"18-64", "male"}: 20}
	cov, err := BuildCoverage(CoverageInput{
		Areas:      []Area{{Code: "R"}, {Code: "A", Parent: "R", Targets: tg}, {Code: "B", Parent: "R", Targets: tg}},
		Registered: []Count{{AreaCode: "A", BirthYear: 1990, Sex: "female", N: 25}, {AreaCode: "B", BirthYear: 1990, Sex: "male", N: 15}},
		Weekly:     []Count{{AreaCode: "A", Week: 2890, N: 25}, {AreaCode: "B", Week: 2891, N: 15}},
	}, Params{Area: "R", To: mustDate("2026-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	ans := func(site, d string, n int) Count {
		return Count{Site: site, OperatorID: site + "-op", Category: "iris", Purpose: "verification", Decision: d, N: n}
	}
	con, err := BuildIntegrity(IntegrityInput{Answers: []Count{ans("s1", "granted", 40), ans("s2", "granted", 30), ans("s2", "declined", 20)}}, IntegrityParams{})
	if err != nil {
		t.Fatal(err)
	}
	for name, rep := range map[string]any{"coverage": cov, "consent": con,
		"exclusion": Exclusion{Kind: "exclusion", CareSites: []CareRow{{SiteCode: "s1", CareWithoutBiometrics: intp(12)}}},
		"register":  BuildRegister(RegisterInput{HouseholdsWithoutHead: 12}, Params{To: mustDate("2026-06-01")})} {
		var b bytes.Buffer
		if err := WriteHTML(&b, rep); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		page := b.String()
		if strings.Contains(page, "<script") || strings.Contains(page, "src=") || strings.Contains(page, "href=") {
			t.Errorf("%s: the page loads something from elsewhere", name)
		}
		svgs := 0
		for rest := page; ; {
			i := strings.Index(rest, "<svg")
			if i < 0 {
				break
			}
			j := strings.Index(rest[i:], "</svg>")
			svg := rest[i : i+j+len("</svg>")]
			dec := xml.NewDecoder(strings.NewReader(svg))
			rects := 0
			for {
				tok, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: chart is not well-formed XML: %v\n%s", name, err, svg)
				}
				if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
					rects++
				}
			}
			if rects == 0 {
				t.Errorf("%s: a chart without bars", name)
			}
			svgs++
			rest = rest[i+j:]
		}
		want := map[string]int{"coverage": 3, "consent": 1, "exclusion": 1, "register": 0}[name]
		if svgs != want {
			t.Errorf("%s: %d charts, want %d", name, svgs, want)
		}
		if name == "consent" && !strings.Contains(page, "s1 ⚑") {
			t.Errorf("consent: the all-granting site is not marked on the chart")
		}
	}
}
