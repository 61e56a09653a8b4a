package report

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"int": func(p *int) string {
		if p == nil {
			return "·"
		}
		return fmt.Sprint(*p)
	},
	"pct": func(p *float64) string {
		if p == nil {
			return "·"
		}
		return fmt.Sprintf("%.1f %%", *p*100)
	},
	"num":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"add":   func(a, b float64) float64 { return a + b },
	"sub":   func(a, b float64) float64 { return a - b },
	"half":  func(a float64) float64 { return a / 2 },
	"deref": func(p *float64) float64 { return *p },
}).ParseFS(templateFS, "templates/*.html"))

// Bar is one bar of an SVG bar chart, laid out in Go (the template only
// draws): X, Y, W, H in chart units; Mark is a target line (MarkY) or a
// flag.
type Bar struct {
	Label      string
	Value      string
	X, Y, W, H float64
	HasMark    bool
	MarkY      float64
	Flagged    bool
	Withheld   bool // suppressed: drawn as a hatched stub with no value
}

// Chart is an SVG bar chart.
type Chart struct {
	Title, Note string
	// Key names the chart for pages that translate its title (see
	// Charts); Args are the values its title and note show.
	Key           string
	Args          []string
	Width, Height float64
	Base          float64 // y of the axis
	Bars          []Bar
	Ticks         []Tick
}

// Tick is a label on the value axis.
type Tick struct {
	Y     float64
	Label string
}

const (
	chartW, chartH = 640.0, 260.0
	plotTop        = 20.0
	plotBottom     = 200.0
	plotLeft       = 50.0
)

func barChart(title, note string, labels []string, values []*float64, marks []*float64, flags []bool, format func(float64) string) Chart {
	c := Chart{Title: title, Note: note, Width: chartW, Height: chartH, Base: plotBottom}
	top := 0.0
	for i := range values {
		if values[i] != nil {
			top = math.Max(top, *values[i])
		}
		if marks != nil && marks[i] != nil {
			top = math.Max(top, *marks[i])
		}
	}
	if top == 0 {
		top = 1
	}
	top = niceCeil(top)
	scale := (plotBottom - plotTop) / top
	for k := 0; k <= 4; k++ {
		v := top * float64(k) / 4
		c.Ticks = append(c.Ticks, Tick{Y: plotBottom - v*scale, Label: format(v)})
	}
	n := max(1, len(labels))
	slot := (chartW - plotLeft - 10) / float64(n)
	for i, l := range labels {
		b := Bar{Label: l, X: plotLeft + float64(i)*slot + slot*0.15, W: slot * 0.7}
		if values[i] == nil {
			b.Withheld, b.Y, b.H, b.Value = true, plotBottom-6, 6, "suppressed"
		} else {
			b.H = *values[i] * scale
			b.Y = plotBottom - b.H
			b.Value = format(*values[i])
		}
		if marks != nil && marks[i] != nil {
			b.HasMark, b.MarkY = true, plotBottom-*marks[i]*scale
		}
		if flags != nil {
			b.Flagged = flags[i]
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

type coveragePage struct {
	Coverage
	Charts []Chart
}

type consentPage struct {
	ConsentReport
	Charts []Chart
}

// WriteHTML writes a self-contained HTML page (inline CSS and SVG charts,
// no script, no external resource) that prints to A4.
func WriteHTML(w io.Writer, rep any) error {
	switch r := rep.(type) {
	case Coverage:
		return pages.ExecuteTemplate(w, "coverage.html", coveragePage{Coverage: r, Charts: coverageCharts(r)})
	case ConsentReport:
		return pages.ExecuteTemplate(w, "consent.html", consentPage{ConsentReport: r, Charts: consentCharts(r)})
	case Exclusion:
		return pages.ExecuteTemplate(w, "exclusion.html", struct {
			Exclusion
			Charts []Chart
		}{r, exclusionCharts(r)})
	case Register:
		return pages.ExecuteTemplate(w, "register.html", r)
	}
	return fmt.Errorf("report: no HTML page for %T", rep)
}

func coverageCharts(r Coverage) []Chart {
	// Registered (all ages, all sexes) per area against its target line.
	var labels []string
	var vals, marks []*float64
	for _, c := range r.Cells {
		if c.AgeBand != AllKey || c.Sex != AllKey {
			continue
		}
		labels = append(labels, c.AreaCode)
		var v, m *float64
		if c.Registered != nil {
			f := float64(*c.Registered)
			v = &f
		}
		if c.Target != nil {
			f := float64(*c.Target)
			m = &f
		}
		vals, marks = append(vals, v), append(marks, m)
	}
	count := func(f float64) string { return fmt.Sprintf("%.0f", f) }
	charts := []Chart{barChart("Registered per area against target", "bars: registered (all ages, both sexes); line: target", labels, vals, marks, nil, count)}
	charts[0].Key = "coverage_area"
	// Coverage per age band in the report's area.
	labels, vals = nil, nil
	for _, c := range r.Cells {
		if c.AreaCode != r.Area || c.Sex != AllKey || c.AgeBand == AllKey || c.AgeBand == UnknownBand {
			continue
		}
		labels = append(labels, c.AgeBand)
		vals = append(vals, c.Coverage)
	}
	charts = append(charts, barChart("Coverage by age band in "+r.Area, "registered / target; above 100 % means the target is too low",
		labels, vals, nil, nil, func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }))
	charts[1].Key, charts[1].Args = "coverage_band", []string{r.Area}
	if len(r.Weekly) > 0 {
		labels, vals = nil, nil
		for _, wk := range r.Weekly {
			if wk.Week == "total" {
				continue
			}
			labels = append(labels, wk.Week[5:])
			var v *float64
			if wk.Registered != nil {
				f := float64(*wk.Registered)
				v = &f
			}
			vals = append(vals, v)
		}
		charts = append(charts, barChart("Registrations per week in "+r.Area, "weeks starting Monday (month-day)", labels, vals, nil, nil, count))
		charts[2].Key, charts[2].Args = "coverage_weekly", []string{r.Area}
	}
	return charts
}

func consentCharts(r ConsentReport) []Chart {
	var charts []Chart
	for _, pr := range ConsentPairs() {
		if pr == [2]string{"identity", "registration"} {
			continue
		}
		var labels []string
		var vals []*float64
		var flags []bool
		for _, s := range r.Sites {
			if s.Category != pr[0] || s.Purpose != pr[1] {
				continue
			}
			labels = append(labels, s.SiteCode)
			vals = append(vals, s.DeclineRate)
			flags = append(flags, s.Flagged)
		}
		if len(labels) == 0 {
			continue
		}
		note := "decline rate per site; programme rate " + fmt.Sprintf("%.1f %%", r.Method.ProgrammeRate[pr[0]+"/"+pr[1]]*100) + "; red: flagged"
		c := barChart("Declines: "+pr[0]+" for "+pr[1], note, labels, vals, nil, flags,
			func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) })
		c.Key, c.Args = "consent_declines", []string{pr[0], pr[1], fmt.Sprintf("%.1f", r.Method.ProgrammeRate[pr[0]+"/"+pr[1]]*100)}
		charts = append(charts, c)
	}
	slices.SortStableFunc(charts, func(a, b Chart) int { return len(b.Bars) - len(a.Bars) })
	return charts
}

func exclusionCharts(r Exclusion) []Chart {
	var labels []string
	var vals []*float64
	for _, c := range r.CareSites {
		if c.SiteCode == "" {
			continue
		}
		labels = append(labels, c.SiteCode)
		var v *float64
		if c.CareWithoutBiometrics != nil {
			f := float64(*c.CareWithoutBiometrics)
			v = &f
		}
		vals = append(vals, v)
	}
	if len(labels) == 0 {
		return nil
	}
	c := barChart("Checked up without any biometric, per site", "people served by care whom no biometric enrols", labels, vals, nil, nil,
		func(f float64) string { return fmt.Sprintf("%.0f", f) })
	c.Key = "exclusion_care"
	return []Chart{c}
}
