package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// decode reads one JSON object into v, strictly: unknown fields, member
// names that differ from the documented ones only in case, a member given
// twice, text that is not UTF-8, trailing data, wrong types and oversize
// bodies are refused with a stable code. The body is JSON whatever
// Content-Type says (curl -d sends a form type).
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeProblem(err)
	}
	if !utf8.Valid(body) {
		p := newProblem(http.StatusBadRequest, CodeInvalidText, "the body is not UTF-8 text", "")
		return &p
	}
	if err := checkMembers(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
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
	var b64 base64.CorruptInputError
	var p Problem
	switch {
	case errors.As(err, &mbe):
		p = newProblem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is too large", "")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p = newProblem(http.StatusBadRequest, CodeUnknownField, "field "+field+" is not part of this request", field)
	case errors.As(err, &b64):
		p = newProblem(http.StatusBadRequest, CodeInvalidBase64, "data is not valid base64 (standard alphabet, with padding)", "data")
	case errors.As(err, &ute) && ute.Field == "":
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "the body must be one JSON object, not "+ute.Value, "")
	case errors.As(err, &ute):
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "wrong type for "+ute.Field+": "+ute.Value+" given, "+jsonKind(ute.Type)+" expected", ute.Field)
	case errors.Is(err, io.EOF):
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "empty body", "")
	default:
		p = newProblem(http.StatusBadRequest, CodeInvalidJSON, "the body is not valid JSON", "")
	}
	return &p
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another type"
}

// checkMembers walks the JSON text before it is decoded into a value of type
// t and refuses what encoding/json would accept silently: a member given
// twice in one object (the last would win), and a member whose name matches
// a field of t only when case is ignored ("Given_Name" for "given_name").
// Malformed JSON is left to the decoder, which says where.
func checkMembers(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	err := walkValue(dec, t, "")
	var p *Problem
	if errors.As(err, &p) {
		return err
	}
	return nil
}

func walkValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem, path+"[]"); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]string{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := tok.(string)
			full := name
			if path != "" {
				full = path + "." + name
			}
			folded := strings.ToLower(name)
			if prev, dup := seen[folded]; dup {
				detail := "member " + full + " is given twice"
				if prev != name {
					detail = "members " + prev + " and " + name + " differ only in case"
				}
				p := newProblem(http.StatusBadRequest, CodeDuplicateField, detail, full)
				return &p
			}
			seen[folded] = name
			var ft reflect.Type
			if fields != nil {
				var exact bool
				ft, exact = fields[name]
				if !exact {
					for fname := range fields {
						if strings.EqualFold(fname, name) {
							p := newProblem(http.StatusBadRequest, CodeUnknownField, "field "+full+" is not part of this request (names are lower case: "+fname+")", full)
							return &p
						}
					}
				}
			} else if t != nil && t.Kind() == reflect.Map {
				ft = t.Elem()
			}
			if err := walkValue(dec, ft, full); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// jsonFields maps the JSON member names of struct type t (embedded structs
// included) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
