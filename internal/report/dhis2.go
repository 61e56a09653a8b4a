package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// DHIS2Mapping maps report cells to DHIS2 identifiers. A cell whose area
// (or site), measure or disaggregation has no mapping is left out; so is
// every suppressed cell (never written as zero). See docs/reports.md.
type DHIS2Mapping struct {
	// Period in DHIS2 notation ("2026", "202606", "2026Q2", "2026W23");
	// empty: the month of the report's last day.
	Period string `json:"period"`
	// OrgUnits maps area codes (coverage) and site codes (consent) to
	// organisation unit ids.
	OrgUnits map[string]string `json:"org_units"`
	// DataElements maps measures to data element ids: registered, target,
	// checked_up, enrolled.face|fingerprint|iris (coverage); granted,
	// declined, withdrawn (consent).
	DataElements map[string]string `json:"data_elements"`
	// CategoryOptionCombos maps disaggregations to category option combo
	// ids: "AGE_BAND/SEX" (e.g. "18-64/female", "all/all") for coverage,
	// "CATEGORY/PURPOSE" for consent, "default" for undisaggregated values.
	CategoryOptionCombos map[string]string `json:"category_option_combos"`
}

// ReadDHIS2Mapping reads a mapping file (JSON, unknown fields refused).
func ReadDHIS2Mapping(path string) (DHIS2Mapping, error) {
	var m DHIS2Mapping
	f, err := os.Open(path)
	if err != nil {
		return m, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("dhis2 mapping %s: %w", path, err)
	}
	if len(m.OrgUnits) == 0 || len(m.DataElements) == 0 {
		return m, fmt.Errorf("dhis2 mapping %s: org_units and data_elements are required", path)
	}
	return m, nil
}

// DataValue is one value of a DHIS2 dataValueSets document.
type DataValue struct {
	DataElement         string `json:"dataElement"`
	Period              string `json:"period"`
	OrgUnit             string `json:"orgUnit"`
	CategoryOptionCombo string `json:"categoryOptionCombo"`
	Value               string `json:"value"`
}

// DataValueSet is the document DHIS2 imports at /api/dataValueSets.
type DataValueSet struct {
	DataValues []DataValue `json:"dataValues"`
}

func dhis2Period(to string) string {
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return ""
	}
	return t.AddDate(0, 0, -1).Format("200601")
}

// DHIS2Values converts a report (Coverage or ConsentReport) to data values.
func DHIS2Values(rep any, m DHIS2Mapping) (DataValueSet, error) {
	out := DataValueSet{DataValues: []DataValue{}}
	add := func(period, unit, measure, combo string, v *int) {
		ou, de, coc := m.OrgUnits[unit], m.DataElements[measure], m.CategoryOptionCombos[combo]
		if v == nil || ou == "" || de == "" || coc == "" {
			return
		}
		out.DataValues = append(out.DataValues, DataValue{DataElement: de, Period: period, OrgUnit: ou, CategoryOptionCombo: coc, Value: strconv.Itoa(*v)})
	}
	switch r := rep.(type) {
	case Coverage:
		pe := m.Period
		if pe == "" {
			pe = dhis2Period(r.To)
		}
		for _, c := range r.Cells {
			if c.Suppressed {
				continue
			}
			add(pe, c.AreaCode, "registered", c.AgeBand+"/"+c.Sex, c.Registered)
			add(pe, c.AreaCode, "target", c.AgeBand+"/"+c.Sex, c.Target)
		}
		for _, c := range r.CheckedUp {
			if !c.Suppressed {
				add(pe, c.AreaCode, "checked_up", c.AgeBand+"/"+c.Sex, c.CheckedUp)
			}
		}
		for _, c := range r.Enrolled {
			if !c.Suppressed {
				add(pe, c.AreaCode, "enrolled."+c.Modality, "default", c.Enrolled)
			}
		}
	case ConsentReport:
		pe := m.Period
		if pe == "" {
			pe = dhis2Period(r.To)
		}
		for _, s := range r.Sites {
			combo := s.Category + "/" + s.Purpose
			add(pe, s.SiteCode, "granted", combo, s.Granted)
			add(pe, s.SiteCode, "declined", combo, s.Declined)
			add(pe, s.SiteCode, "withdrawn", combo, s.Withdrawn)
		}
	default:
		return out, fmt.Errorf("dhis2: no mapping for %T", rep)
	}
	if strings.TrimSpace(m.Period) == "" && len(out.DataValues) > 0 && out.DataValues[0].Period == "" {
		return out, fmt.Errorf("dhis2: no period: set \"period\" in the mapping")
	}
	return out, nil
}

// WriteDHIS2 writes the report as a DHIS2 dataValueSets JSON document.
func WriteDHIS2(w io.Writer, rep any, m DHIS2Mapping) error {
	set, err := DHIS2Values(rep, m)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(set)
}
