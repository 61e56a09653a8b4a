package httpapi

import (
	"net/http"
	"strings"
)

// securityHeaders sets on every response, before its status line is
// written, the headers a browser needs to treat the API safely:
//   - X-Content-Type-Options: nosniff (no guessing a JSON body is HTML);
//   - Content-Security-Policy frame-ancestors 'none' (no framing), appended to
//     a policy the handler set itself (a receipt page) rather than replaced;
//   - Referrer-Policy: no-referrer (no person id leaks in a Referer);
//   - Strict-Transport-Security only when the connection is TLS (serve
//     --tls-cert); behind a TLS-terminating proxy, the proxy sets it.
func securityHeaders(next http.Handler) http.Handler { return SecurityHeaders(next) }

// SecurityHeaders wraps a handler served beside the API on the same address
// (the web interface) in the same headers; wrapping twice is harmless.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&headerWriter{ResponseWriter: w, tls: r.TLS != nil}, r)
	})
}

type headerWriter struct {
	http.ResponseWriter
	tls     bool
	written bool
}

func (w *headerWriter) set() {
	if w.written {
		return
	}
	w.written = true
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	switch csp := h.Get("Content-Security-Policy"); {
	case csp == "":
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	case !strings.Contains(csp, "frame-ancestors"):
		h.Set("Content-Security-Policy", csp+"; frame-ancestors 'none'")
	}
	if w.tls {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

func (w *headerWriter) WriteHeader(code int) {
	w.set()
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.set()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on, with the headers set first.
func (w *headerWriter) Flush() {
	w.set()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
