//go:build !(amd64 || arm64)

package fingerprint

// formLE: see form_le.go; here forms are decoded field by field.
const formLE = false
