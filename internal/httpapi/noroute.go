package httpapi

import (
	"net/http"
	"strings"
)

// noRoute answers every request no route matches, as problem+json like
// every other error: 405 with an Allow header when the path exists under
// other methods, 404 otherwise.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, s.log, probErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed here; use "+strings.Join(allow, ", ")))
		return
	}
	writeProblem(w, r, s.log, probErr(http.StatusNotFound, CodeNotFound, "no such route"))
}
