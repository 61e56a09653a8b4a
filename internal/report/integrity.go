package report

import (
	"math"
	"slices"
	"time"
)

// Defaults of the consent integrity test.
const (
	DefaultAlpha      = 0.001 // one-sided p below which few declines are flagged
	DefaultMinAnswers = 30    // answers a site or operator needs before a test
	EarlyWithdrawal   = 30 * 24 * time.Hour
)

// IntegrityParams configure the coercion signals.
type IntegrityParams struct {
	Params
	Alpha      float64 // DefaultAlpha when 0
	MinAnswers int     // DefaultMinAnswers when 0
}

// IntegrityInput are the counts a consent report is built from.
type IntegrityInput struct {
	Areas []Area
	// SiteAreas maps each site code to its area.
	SiteAreas map[string]string
	// Answers recorded in the period: site, operator, category, purpose,
	// decision (every site; the programme-wide rates use them all).
	Answers []Count
	// EarlyWithdrawals per registration site: persons who withdrew within
	// EarlyWithdrawal of registering.
	EarlyWithdrawals []Count
}

// ConsentRow is one line of the consent report: a site, an operator at a
// site, or the programme (site_code empty), for one category x purpose.
type ConsentRow struct {
	SiteCode   string `json:"site_code"`
	OperatorID string `json:"operator_id,omitempty"`
	Category   string `json:"category"`
	Purpose    string `json:"purpose"`
	Granted    *int   `json:"granted,omitempty"`
	Declined   *int   `json:"declined,omitempty"`
	Withdrawn  *int   `json:"withdrawn,omitempty"`
	// DeclineRate is declined / (granted + declined), when both are
	// published.
	DeclineRate *float64 `json:"decline_rate,omitempty"`
	// PValue is P(X <= declined) for X ~ Binomial(granted + declined,
	// programme rate): how probable so few declines are if this site asked
	// like the rest of the programme. Given when the row is tested and its
	// counts are published.
	PValue *float64 `json:"p_value,omitempty"`
	// Flagged: at least MinAnswers answers and no decline at all, or
	// PValue below Alpha. Decided on the true counts, also when they are
	// suppressed.
	Flagged    bool   `json:"flagged"`
	FlagReason string `json:"flag_reason,omitempty"` // no_declines | improbably_few_declines
	Suppressed bool   `json:"suppressed"`
}

// EarlyRow counts persons registered at a site who withdrew a consent
// within 30 days of registering (a sign they were not told).
type EarlyRow struct {
	SiteCode   string `json:"site_code"`
	Withdrew   *int   `json:"withdrew_within_30_days,omitempty"`
	Suppressed bool   `json:"suppressed"`
}

// Method states the test the report ran.
type Method struct {
	Test          string             `json:"test"`
	Alpha         float64            `json:"alpha"`
	MinAnswers    int                `json:"min_answers"`
	ProgrammeRate map[string]float64 `json:"programme_decline_rate"` // by "category/purpose"
}

// ConsentReport is the consent integrity report.
type ConsentReport struct {
	Kind             string       `json:"kind"`
	Area             string       `json:"area,omitempty"`
	From             string       `json:"from,omitempty"`
	To               string       `json:"to"`
	Privacy          Privacy      `json:"privacy"`
	Method           Method       `json:"method"`
	Programme        []ConsentRow `json:"programme"`
	Sites            []ConsentRow `json:"sites"`
	Operators        []ConsentRow `json:"operators"`
	EarlyWithdrawals []EarlyRow   `json:"early_withdrawals"`
}

// BinomialCDF is P(X <= x) for X ~ Binomial(n, p), summed in log space.
func BinomialCDF(x, n int, p float64) float64 {
	switch {
	case x < 0:
		return 0
	case x >= n:
		return 1
	case p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	lgn, _ := math.Lgamma(float64(n + 1))
	lp, lq := math.Log(p), math.Log1p(-p)
	sum := 0.0
	for i := 0; i <= x; i++ {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lgn - a - b + float64(i)*lp + float64(n-i)*lq)
	}
	return math.Min(1, sum)
}

type answerKey struct{ site, op, cat, pur string }

// BuildIntegrity makes the consent integrity report. With p.Area set, only
// sites in that area (rolled up) are listed; the programme-wide decline
// rates always come from every site.
func BuildIntegrity(in IntegrityInput, p IntegrityParams) (ConsentReport, error) {
	p.defaults()
	if p.Alpha <= 0 {
		p.Alpha = DefaultAlpha
	}
	if p.MinAnswers <= 0 {
		p.MinAnswers = DefaultMinAnswers
	}
	inArea := func(site string) bool { return p.Area == "" }
	if p.Area != "" {
		tr, ok := subtree(in.Areas, p.Area)
		if !ok {
			return ConsentReport{}, ErrUnknownArea
		}
		inArea = func(site string) bool { _, ok := tr.index[in.SiteAreas[site]]; return ok }
	}
	out := ConsentReport{Kind: "consent", Area: p.Area, From: dateOrEmpty(p.From), To: dateOrEmpty(p.To), Privacy: Privacy{K: p.K},
		Method: Method{Test: "exact one-sided binomial, declines against the programme-wide decline rate of the same category and purpose",
			Alpha: p.Alpha, MinAnswers: p.MinAnswers, ProgrammeRate: map[string]float64{}}}
	decisions := []string{"granted", "declined", "withdrawn"}
	const tables = 2
	eps := p.Epsilon / tables
	if p.Epsilon > 0 {
		out.Privacy.Epsilon, out.Privacy.EpsilonPerTable, out.Privacy.Mechanism = p.Epsilon, eps, "two-sided geometric"
	}
	rng := p.rng()

	// True counts by (site, operator, pair) and decision; programme rates.
	counts := map[answerKey]*[3]int{}
	progG, progD := map[[2]string]int{}, map[[2]string]int{}
	for _, c := range in.Answers {
		d := indexOf(decisions, c.Decision)
		if d < 0 {
			continue
		}
		pr := [2]string{c.Category, c.Purpose}
		switch d {
		case 0:
			progG[pr] += c.N
		case 1:
			progD[pr] += c.N
		}
		if !inArea(c.Site) {
			continue
		}
		k := answerKey{c.Site, c.OperatorID, c.Category, c.Purpose}
		if counts[k] == nil {
			counts[k] = &[3]int{}
		}
		counts[k][d] += c.N
	}
	if p.Epsilon > 0 {
		alpha := math.Exp(-eps)
		for _, v := range counts {
			for d := range v {
				v[d] = max(0, v[d]+geometric(alpha, rng)-geometric(alpha, rng))
			}
		}
	}
	rate := map[[2]string]float64{}
	for _, pr := range ConsentPairs() {
		if n := progG[pr] + progD[pr]; n > 0 {
			rate[pr] = float64(progD[pr]) / float64(n)
			out.Method.ProgrammeRate[pr[0]+"/"+pr[1]] = rate[pr]
		}
	}

	// Sites and operators of each pair, in a stable order.
	sitesOf := map[[2]string][]string{}
	opsOf := map[[3]string][]string{}
	for k := range counts {
		pr := [2]string{k.cat, k.pur}
		if !slices.Contains(sitesOf[pr], k.site) {
			sitesOf[pr] = append(sitesOf[pr], k.site)
		}
		so := [3]string{k.site, k.cat, k.pur}
		opsOf[so] = append(opsOf[so], k.op)
	}
	for _, pr := range ConsentPairs() {
		sites := sitesOf[pr]
		if len(sites) == 0 {
			continue
		}
		slices.Sort(sites)
		// One table per decision: programme, sites, operators.
		type rowRef struct{ site, op string }
		var refs []rowRef
		refs = append(refs, rowRef{})
		for _, s := range sites {
			refs = append(refs, rowRef{site: s, op: "\x00"})
		}
		for _, s := range sites {
			ops := opsOf[[3]string{s, pr[0], pr[1]}]
			slices.Sort(ops)
			for _, o := range ops {
				refs = append(refs, rowRef{site: s, op: o})
			}
		}
		vals := make([][3]int, len(refs))
		tabs := [3]*Table{}
		for d := range decisions {
			t := NewTable(len(refs))
			prog := Sum{Total: 0}
			for i, r := range refs {
				if r.site == "" && r.op == "" && i == 0 {
					continue
				}
				if r.op == "\x00" {
					prog.Parts = append(prog.Parts, i)
					site := Sum{Total: i}
					for j, q := range refs {
						if q.site == r.site && q.op != "\x00" && j > 0 {
							site.Parts = append(site.Parts, j)
						}
					}
					t.Sums = append(t.Sums, site)
					continue
				}
				v := counts[answerKey{r.site, r.op, pr[0], pr[1]}][d]
				t.Values[i] = v
				vals[i][d] = v
			}
			for _, s := range t.Sums {
				for _, j := range s.Parts {
					t.Values[s.Total] += t.Values[j]
				}
				vals[s.Total][d] = t.Values[s.Total]
			}
			for _, j := range prog.Parts {
				t.Values[0] += t.Values[j]
			}
			vals[0][d] = t.Values[0]
			t.Sums = append(t.Sums, prog)
			t.Protect(p.K)
			tabs[d] = t
		}
		for i, r := range refs {
			row := ConsentRow{SiteCode: r.site, Category: pr[0], Purpose: pr[1]}
			if r.op != "\x00" {
				row.OperatorID = r.op
			}
			ptrs := []**int{&row.Granted, &row.Declined, &row.Withdrawn}
			for d := range decisions {
				if tabs[d].Suppressed[i] {
					row.Suppressed = true
				} else {
					*ptrs[d] = intp(vals[i][d])
				}
			}
			g, dcl := vals[i][0], vals[i][1]
			n := g + dcl
			tested := i > 0 && pr != [2]string{"identity", "registration"} && n >= p.MinAnswers
			var pv float64
			if tested {
				pv = BinomialCDF(dcl, n, rate[pr])
				switch {
				case dcl == 0:
					row.Flagged, row.FlagReason = true, "no_declines"
				case pv < p.Alpha:
					row.Flagged, row.FlagReason = true, "improbably_few_declines"
				}
			}
			if row.Granted != nil && row.Declined != nil && n > 0 {
				r := float64(dcl) / float64(n)
				row.DeclineRate = &r
				if tested {
					row.PValue = &pv
				}
			}
			switch {
			case i == 0:
				out.Programme = append(out.Programme, row)
			case r.op == "\x00":
				out.Sites = append(out.Sites, row)
			default:
				out.Operators = append(out.Operators, row)
			}
		}
	}

	// Early withdrawals per registration site.
	var early []Count
	for _, c := range in.EarlyWithdrawals {
		if inArea(c.Site) {
			early = append(early, c)
		}
	}
	slices.SortFunc(early, func(a, b Count) int {
		if a.Site < b.Site {
			return -1
		}
		if a.Site > b.Site {
			return 1
		}
		return 0
	})
	t := NewTable(len(early) + 1)
	total := Sum{Total: 0}
	alpha := math.Exp(-eps)
	for i, c := range early {
		v := c.N
		if p.Epsilon > 0 {
			v = max(0, v+geometric(alpha, rng)-geometric(alpha, rng))
		}
		t.Values[i+1] = v
		t.Values[0] += v
		total.Parts = append(total.Parts, i+1)
	}
	t.Sums = []Sum{total}
	t.Protect(p.K)
	for i := range len(early) + 1 {
		row := EarlyRow{SiteCode: "", Suppressed: t.Suppressed[i]}
		if i > 0 {
			row.SiteCode = early[i-1].Site
		}
		if !row.Suppressed {
			row.Withdrew = intp(t.Values[i])
		}
		out.EarlyWithdrawals = append(out.EarlyWithdrawals, row)
	}
	if out.Programme == nil {
		out.Programme, out.Sites = []ConsentRow{}, []ConsentRow{}
	}
	if out.Operators == nil {
		out.Operators = []ConsentRow{}
	}
	if out.Sites == nil {
		out.Sites = []ConsentRow{}
	}
	return out, nil
}
