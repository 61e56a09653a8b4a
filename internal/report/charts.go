package report

// Charts returns the bar charts of a report (Coverage, ConsentReport,
// Exclusion; a Register has none), laid out in chart units, for pages that
// draw them with their own templates and translate their titles by Key
// (the web UI). The English titles and notes are those of WriteHTML.
func Charts(rep any) []Chart {
	switch r := rep.(type) {
	case Coverage:
		return coverageCharts(r)
	case ConsentReport:
		return consentCharts(r)
	case Exclusion:
		return exclusionCharts(r)
	}
	return nil
}
