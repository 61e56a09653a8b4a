package web

import (
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

type portalLoginPage struct {
	Number string
	Failed string // catalogue key
}

// portalForm is the person's sign-in: number and code; ?n= prefills the
// number (the receipt's QR code links here).
func (s *Server) portalForm(q *req) error {
	s.render(q, http.StatusOK, "portal_login", portalLoginPage{Number: q.URL.Query().Get("n")})
	return nil
}

func clientAddr(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func (s *Server) portalLogin(q *req) error {
	num := strings.TrimSpace(q.PostFormValue("person_number"))
	code := strings.TrimSpace(q.PostFormValue("code"))
	id, err := s.resolve(q.Context(), num)
	if isNotFound(err) {
		id, err = num, nil // Login refuses it like any unknown person
	}
	var sess registry.Session
	if err == nil {
		sess, err = s.reg.Login(q.Context(), id, code, clientAddr(q.Request))
	}
	if err != nil {
		page := portalLoginPage{Number: num, Failed: "portal.failed"}
		status := http.StatusUnauthorized
		if isLocked(err) {
			page.Failed, status = "portal.locked", http.StatusTooManyRequests
		} else if c, _, ok := problemOf(err); ok {
			page.Failed, status = "err."+c, http.StatusUnprocessableEntity
		}
		s.render(q, status, "portal_login", page)
		return nil
	}
	s.sessions.drop(q.w, q.Request, s.secure)
	if err := s.sessions.startSubject(q.w, q.Request, s.secure, sess.Token); err != nil {
		return err
	}
	http.Redirect(q.w, q.Request, "/portal/me", http.StatusSeeOther)
	return nil
}

func (s *Server) portalLogout(q *req) error {
	s.sessions.drop(q.w, q.Request, s.secure)
	http.Redirect(q.w, q.Request, "/portal", http.StatusSeeOther)
	return nil
}

// consentRow is one of the person's current answers, with what
// withdrawing it would do.
type consentRow struct {
	registry.ConsentView
	Withdrawable bool
}

type portalPage struct {
	Export   registry.Export
	Consents []consentRow
	AuditKey string
}

// portalMe shows everything held about the person (one audited export),
// their answers with a withdraw button each, and their access log, whose
// proofs the page's own script checks.
func (s *Server) portalMe(q *req) error {
	id := q.actor.PersonID
	ex, err := s.reg.ExportPerson(q.Context(), q.actor, "", id)
	if err != nil {
		return err
	}
	pp := portalPage{Export: ex, AuditKey: auditKeyFingerprint(s.reg.AuditVerifierKey())}
	for _, c := range currentConsents(ex.Consents) {
		pp.Consents = append(pp.Consents, consentRow{ConsentView: c, Withdrawable: c.Decision == string(consent.Granted)})
	}
	s.render(q, http.StatusOK, "portal", pp)
	return nil
}

// currentConsents keeps the latest record of each (category, purpose).
func currentConsents(all []registry.ConsentView) []registry.ConsentView {
	latest := map[[2]string]registry.ConsentView{}
	var order [][2]string
	for _, c := range all {
		k := [2]string{c.Category, c.Purpose}
		old, ok := latest[k]
		if !ok {
			order = append(order, k)
		}
		if !ok || c.Seq > old.Seq {
			latest[k] = c
		}
	}
	out := make([]registry.ConsentView, 0, len(order))
	for _, k := range order {
		out = append(out, latest[k])
	}
	return out
}

// portalAccessLog is the access log with its proofs and the signed
// checkpoint, for the page's script to verify in the browser.
func (s *Server) portalAccessLog(q *req) error {
	al, err := s.reg.AccessLog(q.Context(), q.actor, "", q.actor.PersonID)
	if err != nil {
		return err
	}
	q.w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(q.w).Encode(al)
}

type withdrawPage struct {
	Category, Purpose string
	ErasesPerson      bool // identity/registration: the whole record
	ErasesCategory    bool // the last purpose of its category
	Erased            []string
	Done              bool
}

// withdrawConfirm says exactly what withdrawing will destroy and keep,
// before anything changes.
func (s *Server) withdrawConfirm(q *req) error {
	wp, err := s.withdrawal(q)
	if err != nil {
		return err
	}
	s.render(q, http.StatusOK, "withdraw", wp)
	return nil
}

func (s *Server) withdrawal(q *req) (withdrawPage, error) {
	wp := withdrawPage{Category: q.PostFormValue("category"), Purpose: q.PostFormValue("purpose")}
	if !consent.ValidPair(consent.Category(wp.Category), consent.Purpose(wp.Purpose)) {
		return wp, &registry.InputError{Code: registry.CodeInvalidValue, Field: "purpose", Detail: "not a consent a person gives"}
	}
	cs, err := s.reg.Consents(q.Context(), q.actor, "", q.actor.PersonID, false)
	if err != nil {
		return wp, err
	}
	wp.ErasesPerson = wp.Category == string(consent.Identity)
	wp.ErasesCategory = !slices.ContainsFunc(currentConsents(cs), func(c registry.ConsentView) bool {
		return c.Category == wp.Category && c.Purpose != wp.Purpose && c.Decision == string(consent.Granted)
	})
	return wp, nil
}

func (s *Server) withdraw(q *req) error {
	wp, err := s.withdrawal(q)
	if err != nil {
		return err
	}
	out, err := s.reg.RecordConsent(q.Context(), q.actor, "", q.actor.PersonID, registry.NewConsent{Category: wp.Category, Purpose: wp.Purpose,
		Decision: string(consent.Withdrawn), Method: "portal", NoticeVersion: s.notices.latest, Language: q.loc.Code})
	if err != nil {
		return err
	}
	wp.Done, wp.Erased, wp.ErasesPerson = true, out.Erased, out.ErasedPerson
	if out.ErasedPerson {
		s.sessions.drop(q.w, q.Request, s.secure)
	}
	s.render(q, http.StatusOK, "withdraw", wp)
	return nil
}
