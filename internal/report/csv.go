package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

func optInt(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func optFloat(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

// WriteCoverageCSV writes the coverage cells, one line per area x age band
// x sex (margins included); a suppressed cell has empty counts.
func WriteCoverageCSV(w io.Writer, c Coverage) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"area_code", "age_band", "sex", "target", "registered", "coverage", "suppressed"})
	for _, x := range c.Cells {
		_ = cw.Write([]string{x.AreaCode, x.AgeBand, x.Sex, optInt(x.Target), optInt(x.Registered), optFloat(x.Coverage), strconv.FormatBool(x.Suppressed)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteConsentCSV writes the consent report's programme, site and operator
// rows; level says which.
func WriteConsentCSV(w io.Writer, c ConsentReport) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"level", "site_code", "operator_id", "category", "purpose", "granted", "declined", "withdrawn",
		"decline_rate", "p_value", "flagged", "flag_reason", "suppressed"})
	for _, part := range []struct {
		level string
		rows  []ConsentRow
	}{{"programme", c.Programme}, {"site", c.Sites}, {"operator", c.Operators}} {
		for _, x := range part.rows {
			_ = cw.Write([]string{part.level, x.SiteCode, x.OperatorID, x.Category, x.Purpose, optInt(x.Granted), optInt(x.Declined), optInt(x.Withdrawn),
				optFloat(x.DeclineRate), optFloat(x.PValue), strconv.FormatBool(x.Flagged), x.FlagReason, strconv.FormatBool(x.Suppressed)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteExclusionCSV writes the exclusion rows, then the care rows.
func WriteExclusionCSV(w io.Writer, e Exclusion) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"site_code", "modality", "capture_failed", "no_match", "not_enrolled", "care_without_biometrics", "suppressed"})
	for _, x := range e.Modality {
		_ = cw.Write([]string{x.SiteCode, x.Modality, optInt(x.CaptureFailed), optInt(x.NoMatch), optInt(x.NotEnrolled), "", strconv.FormatBool(x.Suppressed)})
	}
	for _, x := range e.CareSites {
		_ = cw.Write([]string{x.SiteCode, "", "", "", "", optInt(x.CareWithoutBiometrics), strconv.FormatBool(x.Suppressed)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteRegisterCSV writes the register quality counts.
func WriteRegisterCSV(w io.Writer, r Register) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"measure", "count", "suppressed"})
	for _, x := range r.Cells {
		_ = cw.Write([]string{x.Measure, optInt(x.Count), strconv.FormatBool(x.Suppressed)})
	}
	cw.Flush()
	return cw.Error()
}
