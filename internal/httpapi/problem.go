package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/assent-registry/assent/internal/registry"
)

// Problem is an RFC 9457 problem document with Assent's stable code.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

// Error codes the HTTP layer itself produces.
const (
	CodeUnauthenticated  = "unauthenticated"
	CodePurposeRequired  = "purpose_required"
	CodeInvalidPurpose   = "invalid_purpose"
	CodeUnknownField     = "unknown_field"
	CodeInvalidJSON      = "invalid_json"
	CodeBodyTooLarge     = "body_too_large"
	CodeUnsupportedType  = "unsupported_media_type"
	CodeNotFound         = "not_found"
	CodeErased           = "erased"
	CodeConflict         = "conflict"
	CodeInternal         = "internal_error"
	CodeRateLimited      = "rate_limited"
	CodeInvalidBase64    = "invalid_base64"
	CodeInvalidText      = registry.CodeInvalidText
	CodeDuplicateField   = "duplicate_field"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeCrossOrigin      = "cross_origin"
	CodeBusy             = "busy" // 503: every extraction slot is taken; retry after Retry-After seconds
)

// inputStatus maps the registry's input codes to statuses.
var inputStatus = map[string]int{
	registry.CodeMissingField:      http.StatusBadRequest,
	registry.CodeInvalidValue:      http.StatusBadRequest,
	registry.CodeInvalidDate:       http.StatusBadRequest,
	registry.CodeConsentRequired:   http.StatusUnprocessableEntity,
	registry.CodeGuardianRequired:  http.StatusUnprocessableEntity,
	registry.CodeUnknownHousehold:  http.StatusUnprocessableEntity,
	registry.CodeUnknownSite:       http.StatusUnprocessableEntity,
	registry.CodeUnknownPerson:     http.StatusUnprocessableEntity,
	registry.CodeInvalidHousehold:  http.StatusUnprocessableEntity,
	registry.CodeSiteExists:        http.StatusConflict,
	registry.CodeInvalidCapture:    http.StatusUnprocessableEntity,
	registry.CodeQualityTooLow:     http.StatusUnprocessableEntity,
	registry.CodeInvalidReceipt:    http.StatusUnprocessableEntity,
	registry.CodeCaseClosed:        http.StatusConflict,
	registry.CodeGuardianNotNeeded: http.StatusUnprocessableEntity,
	registry.CodeInvalidText:       http.StatusBadRequest,
	registry.CodeMergedRecord:      http.StatusConflict,
	registry.CodeInvalidAreaCode:   http.StatusBadRequest,
	registry.CodeMinorCannotBeHead: http.StatusUnprocessableEntity,
	registry.CodeHeadMustStay:      http.StatusUnprocessableEntity,
	registry.CodeNotEnrolled:       http.StatusUnprocessableEntity,
	registry.CodeUnknownArea:       http.StatusBadRequest,
	registry.CodeInvalidReport:     http.StatusBadRequest,
	registry.CodeIdentifierInUse:   http.StatusConflict,
}

// problemFor is the one place errors become HTTP answers. Internal detail
// never reaches the client: unknown errors are a bare 500.
func problemFor(err error) Problem {
	var ie *registry.InputError
	var de *registry.DeniedError
	var pe *Problem
	switch {
	case errors.As(err, &pe):
		return *pe
	case errors.As(err, &ie):
		st, ok := inputStatus[ie.Code]
		if !ok {
			st = http.StatusBadRequest
		}
		detail := ie.Detail
		if ie.Field != "" {
			detail = ie.Field + ": " + ie.Detail
		}
		return newProblem(st, ie.Code, detail, ie.Field)
	case errors.As(err, &de):
		switch de.Reason {
		case "invalid_request":
			return newProblem(http.StatusBadRequest, de.Reason, "", "")
		case "purpose_not_allowed", "not_own_record":
			// The public code is the contract's role_not_allowed; the audit
			// log keeps the precise reason, and detail names it.
			return newProblem(http.StatusForbidden, "role_not_allowed", "denied: "+strings.ReplaceAll(de.Reason, "_", " "), "")
		}
		detail := ""
		if de.Detail != "" {
			detail = "denied: " + strings.ReplaceAll(de.Detail, "_", " ")
		}
		return newProblem(http.StatusForbidden, de.Reason, detail, "")
	case errors.Is(err, registry.ErrUnauthenticated):
		return newProblem(http.StatusUnauthorized, CodeUnauthenticated, "a valid API key is required", "")
	case errors.Is(err, registry.ErrNotFound):
		return newProblem(http.StatusNotFound, CodeNotFound, "", "")
	case errors.Is(err, registry.ErrErased):
		return newProblem(http.StatusGone, CodeErased, "this person's data was erased", "")
	case errors.Is(err, registry.ErrConflict):
		return newProblem(http.StatusConflict, CodeConflict, "the record changed meanwhile; retry", "")
	case errors.Is(err, registry.ErrBusy):
		return newProblem(http.StatusServiceUnavailable, CodeBusy, "the server is extracting as many captures as it has cores; retry shortly", "")
	}
	return newProblem(http.StatusInternalServerError, CodeInternal, "", "")
}

func (p *Problem) Error() string { return p.Code }

func newProblem(status int, code, detail, field string) Problem {
	return Problem{Type: "https://assent.example/problems/" + code, Title: http.StatusText(status), Status: status, Code: code, Detail: detail, Field: field}
}

func writeProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := problemFor(err)
	if p.Code == CodeBusy {
		w.Header().Set("Retry-After", "1")
	} else if p.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "err", err, "request_id", requestID(r.Context()))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
