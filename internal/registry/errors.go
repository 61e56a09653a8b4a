package registry

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors of the use cases. The HTTP layer maps them (and the codes of
// InputError and DeniedError) to statuses in one function.
var (
	ErrNotFound        = errors.New("not found")
	ErrErased          = errors.New("erased")
	ErrConflict        = errors.New("conflict")
	ErrUnauthenticated = errors.New("unauthenticated")
)

// InputError is a request the registry refuses because of what it says. Code
// is stable and public (problem+json "code"); Field names the offending field.
type InputError struct {
	Code   string
	Field  string
	Detail string
}

func (e *InputError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Detail)
}

// Input error codes.
const (
	CodeMissingField      = "missing_field"       // 400
	CodeInvalidValue      = "invalid_value"       // 400
	CodeInvalidDate       = "invalid_date"        // 400
	CodeConsentRequired   = "consent_required"    // 422
	CodeGuardianRequired  = "guardian_required"   // 422
	CodeUnknownHousehold  = "unknown_household"   // 422
	CodeUnknownSite       = "unknown_site"        // 422
	CodeUnknownPerson     = "unknown_person"      // 422
	CodeInvalidHousehold  = "invalid_household"   // 422: a change that would break a household
	CodeSiteExists        = "site_exists"         // 409
	CodeInvalidCapture    = "invalid_capture"     // 422: the data is not a usable image or record
	CodeQualityTooLow     = "quality_too_low"     // 422: too poor to enrol; capture again
	CodeUnknownCase       = "unknown_case"        // 404
	CodeInvalidReceipt    = "invalid_receipt"     // 422
	CodeCaseClosed        = "case_closed"         // 409: the case was decided; decisions are final
	CodeGuardianNotNeeded = "guardian_not_needed" // 422: a guardian_id for a person of age, who answers for themself
	CodeNotEnrolled       = "not_enrolled"        // 422: no template of that modality at that position
	// CodeInvalidPersonNumber: a person number whose check digit fails.
	CodeInvalidPersonNumber = "invalid_person_number" // 400
)

func missing(field string) error {
	return &InputError{Code: CodeMissingField, Field: field, Detail: "is required"}
}

func invalid(field, detail string) error {
	return &InputError{Code: CodeInvalidValue, Field: field, Detail: detail}
}

// DeniedError is a policy refusal. Reason is the policy's stable code
// (role_not_allowed, consent_missing, ...).
type DeniedError struct {
	Reason string
	Detail string
}

func (e *DeniedError) Error() string { return "denied: " + e.Reason }

func sortDenyCounts(xs []DenyCount) {
	slices.SortFunc(xs, func(a, b DenyCount) int {
		if c := strings.Compare(a.Site, b.Site); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}
