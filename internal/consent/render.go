package consent

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// purposeDescription says in plain words what each purpose is.
var purposeDescription = map[Purpose]string{
	Registration:  "keeping your registration record",
	Care:          "your check-up and care",
	Verification:  "checking it is you at a later visit (answer yes or no only)",
	Deduplication: "making sure nobody is registered twice, when you enrol",
	Research:      "approved research studies, without your name",
}

// categoryDescription says in plain words what each category holds.
var categoryDescription = map[Category]string{
	Identity:    "your name, birth date, sex, area and household",
	Face:        "a photo of your face",
	Fingerprint: "your fingerprints",
	Iris:        "scans of your irises",
	BloodType:   "your blood type",
	DNA:         "records of a DNA sample (where it is kept, who handled it; no genetic results)",
	Health:      "your check-up findings",
}

// receiptLine is one answer of a receipt, in words.
type receiptLine struct {
	Pair  string // "fingerprint/verification"
	Words string // "your fingerprints, for checking it is you ..."
}

// receiptView is what the text and HTML templates show.
type receiptView struct {
	R          Receipt
	Time       string
	Controller string
	Granted    []receiptLine
	Declined   []receiptLine
	Withdrawn  []receiptLine
	CareNote   string
}

const careNote = "Your check-up is recorded for your care whatever you answered here. " +
	"Declining or withdrawing never stops you from being cared for."

func lines(ps []Pair) []receiptLine {
	out := make([]receiptLine, 0, len(ps))
	for _, p := range ps {
		out = append(out, receiptLine{
			Pair:  p.String(),
			Words: categoryDescription[p.Category] + ", for " + purposeDescription[p.Purpose],
		})
	}
	return out
}

func view(r Receipt) receiptView {
	v := receiptView{
		R:         r,
		Time:      time.Unix(r.ConsentTimestamp, 0).UTC().Format("2006-01-02 15:04 UTC"),
		Granted:   lines(r.Granted),
		Declined:  lines(r.Declined),
		Withdrawn: lines(r.Withdrawn),
		CareNote:  careNote,
	}
	if len(r.PIIControllers) > 0 {
		v.Controller = r.PIIControllers[0].Name
	}
	return v
}

// RenderText renders a receipt as plain text for printing or a terminal, in
// English. It shows the portal code when the receipt carries one.
func RenderText(r Receipt) string {
	v := view(r)
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("CONSENT RECEIPT")
	line("Receipt:        %s", r.ConsentReceiptID)
	line("Person id:      %s", r.PIIPrincipalID)
	if r.GuardianID != "" {
		line("Given by guardian (person id): %s", r.GuardianID)
	}
	line("Date:           %s", v.Time)
	line("Site:           %s", r.Site)
	line("Controller:     %s", v.Controller)
	line("Collected by:   %s, notice %s, language %s", r.CollectionMethod, r.NoticeVersion, r.Language)
	section := func(title string, ls []receiptLine) {
		line("")
		line("%s:", title)
		if len(ls) == 0 {
			line("  (none)")
		}
		for _, l := range ls {
			line("  - %s (%s)", l.Words, l.Pair)
		}
	}
	section("You agreed to", v.Granted)
	section("You declined", v.Declined)
	if len(v.Withdrawn) > 0 {
		section("You withdrew", v.Withdrawn)
	}
	line("")
	line("%s", careNote)
	line("You can read your data, see who accessed it, and withdraw any consent")
	line("through the portal or at any site. Data left with no purpose is then erased.")
	if r.PolicyURL != "" {
		line("Privacy notice: %s", r.PolicyURL)
	}
	if r.Code != "" {
		line("")
		line("PORTAL CODE (keep it secret; it is shown only once): %s", r.Code)
	}
	if r.PublicKey != "" {
		line("")
		line("Signed by the registry key %s", r.PublicKey)
	}
	return b.String()
}

var receiptHTML = template.Must(template.New("receipt").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Consent receipt {{.R.ConsentReceiptID}}</title>
<style>
body{font-family:serif;max-width:40em;margin:2em auto;color:#000;background:#fff}
h1{font-size:1.4em;border-bottom:2px solid #000}
table{border-collapse:collapse}td,th{text-align:left;padding:.2em .8em .2em 0;vertical-align:top}
.code{font-family:monospace;font-size:1.3em;border:2px dashed #000;padding:.4em;display:inline-block}
.small{font-size:.85em;word-break:break-all}
@media print{body{margin:0}}
</style>
</head>
<body>
<h1>Consent receipt</h1>
<table>
<tr><th>Receipt</th><td>{{.R.ConsentReceiptID}}</td></tr>
<tr><th>Person id</th><td>{{.R.PIIPrincipalID}}</td></tr>
{{- if .R.GuardianID}}
<tr><th>Given by guardian</th><td>{{.R.GuardianID}}</td></tr>
{{- end}}
<tr><th>Date</th><td>{{.Time}}</td></tr>
<tr><th>Site</th><td>{{.R.Site}}</td></tr>
<tr><th>Controller</th><td>{{.Controller}}</td></tr>
<tr><th>Collected</th><td>{{.R.CollectionMethod}}, notice {{.R.NoticeVersion}}, language {{.R.Language}}</td></tr>
</table>
<h2>You agreed to</h2>
<ul>{{range .Granted}}<li>{{.Words}} <small>({{.Pair}})</small></li>{{else}}<li>(none)</li>{{end}}</ul>
<h2>You declined</h2>
<ul>{{range .Declined}}<li>{{.Words}} <small>({{.Pair}})</small></li>{{else}}<li>(none)</li>{{end}}</ul>
{{- if .Withdrawn}}
<h2>You withdrew</h2>
<ul>{{range .Withdrawn}}<li>{{.Words}} <small>({{.Pair}})</small></li>{{end}}</ul>
{{- end}}
<p>{{.CareNote}}</p>
<p>You can read your data, see who accessed it, and withdraw any consent through the portal or at any site. Data left with no purpose is then erased.</p>
{{- if .R.PolicyURL}}
<p>Privacy notice: {{.R.PolicyURL}}</p>
{{- end}}
{{- if .R.Code}}
<h2>Portal code</h2>
<p>Keep it secret; it is shown only once.</p>
<p class="code">{{.R.Code}}</p>
{{- end}}
{{- if .R.PublicKey}}
<p class="small">Signed by the registry key {{.R.PublicKey}}</p>
{{- end}}
</body>
</html>
`))

// RenderHTML renders a receipt as one self-contained, printable HTML page
// (inline style, no scripts, images or external assets), in English. Every
// value is escaped by html/template.
func RenderHTML(r Receipt) ([]byte, error) {
	var b bytes.Buffer
	if err := receiptHTML.Execute(&b, view(r)); err != nil {
		return nil, fmt.Errorf("consent: render receipt: %w", err)
	}
	return b.Bytes(), nil
}
