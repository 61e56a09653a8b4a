package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// decode reads one JSON object into v, strictly: unknown fields, trailing
// data, wrong types and oversize bodies are refused with a stable code. The
// body is JSON whatever Content-Type says (curl -d sends a form type).
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if dec.More() {
		p := newProblem(http.StatusBadRequest, CodeInvalidJSON, "one JSON object expected", "")
		return &p
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		p := newProblem(http.StatusBadRequest, CodeInvalidJSON, "trailing data after the JSON object", "")
		return &p
	}
	return nil
}

func decodeProblem(err error) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var p Problem
	switch {
	case errors.As(err, &mbe):
		p = newProblem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is too large", "")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p = newProblem(http.StatusBadRequest, CodeUnknownField, "field "+field+" is not part of this request", field)
	case errors.As(err, &ute):
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "wrong type for "+ute.Field, ute.Field)
	case errors.Is(err, io.EOF):
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "empty body", "")
	default:
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "the body is not valid JSON", "")
	}
	return &p
}
