package registry

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// txOutsideGuard names every registry function allowed to open a store
// transaction itself (store.View / store.Update) instead of going through
// guard (or guardTx inside a transaction it owns), with why. Anything else
// that opens a transaction fails TestTransactionsGoThroughGuard: a use case
// that reads or writes personal data must be decided and audited by guard.
var txOutsideGuard = map[string]string{
	// The gate itself.
	"Registry.guard":         "the gate: decides, audits and runs the use case in one transaction",
	"Registry.RecordRefusal": "appends the audit event of a request refused before any use case",
	// Policy asked ahead of expensive work; the gate decides again and records.
	"Registry.decideFirst": "asks the policy before decoding a capture; a refusal goes through guard at once",
	// Gallery upkeep: feeds the gallery service what the policy says belongs
	// in it, after the gated change that calls for it; returns nothing.
	"gallerySource.Pages":       "reads the deduplication templates for a gallery load (no caller sees them)",
	"Registry.countConsents":    "decides, for a gallery load, whose deduplication consent counts (a page's persons and histories in one read; no caller sees it)",
	"Registry.afterDedupChange": "reads whether any deduplication consent still counts, after a gated change",
	"Registry.closeCasesOf":     "closes the cases of a person who withdrew or was erased, after the gated change",
	"Registry.ImportOne":        "owns the import transaction and runs guardTx for every access in it",
	// Pending deduplication searches (pending.go): ids and times only, read
	// to finish a search the gate allowed at enrolment.
	"Registry.CompletePendingSearches": "lists the pending searches (ids and times); each is then finished through guardTx",
	"Registry.completePending":         "reads the consent and template as refreshGallery does, then owns the transaction that takes the row and runs guardTx to open the cases",
	"Registry.dropPending":             "deletes the pending row of a person erased, merged or no longer consenting; reads nothing",
	"Registry.PendingSearchCount":      "counts pending searches for metrics: no personal data",
	"Registry.searchPoint":             "reads the number of the last gallery addition of a modality (a counter, no personal data) before a search the policy allowed",
	"Registry.GalleryEntries":          "reads the templates of one person that belong in the galleries, for the in-process refresh and a gallery shard applying a relayed change (internal/cluster); they go only into a gallery",
	"Registry.RelayGalleryChanges":     "publishes the gallery outbox (ids only, no personal data) to the gallery shards and deletes what was published",
	// Identity lookup: runs only after the policy allowed the role to read
	// identities for the purpose; only the matches are read through the gate.
	"Registry.confirmCandidates": "confirms blind-index candidates for FindPersons, after its role decision",
	// Ids read first so that the gate can decide and audit every person
	// touched (no personal data is read here).
	"Registry.ResolvePerson":     "turns a person number into the id the caller could have sent; the gate then decides",
	"Registry.loadCase":          "reads a case's person ids to build the gated access",
	"Registry.Cases":             "lists open cases' person ids to build the gated access",
	"Registry.householdMembers":  "lists a household's member ids to build the gated access",
	"Registry.ChangeHead":        "reads the household's head id to build the gated access",
	"Registry.Exam":              "reads an exam's person id to build the gated access (Exams then decides and audits)",
	"Registry.mergedRecords":     "reads the ids of a merged record's survivor and aliases to build the gated access",
	"Registry.resolveIdentifier": "finds the id an identifier (record id, person number, another system's) names, after the role decision; the gate then decides",
	"Registry.SpecimenByID":      "reads a specimen's person id to build the gated access, after the role decision",
	// Offline and aggregate work, no use case of one person.
	"Registry.Maintain":            "offline maintain: lists lapses and erasures, each then applied through the gate",
	"Registry.endCareRetention":    "offline maintain: lists tombstones whose care retention is over, each then deleted through the gate",
	"Registry.readAggregates":      "aggregate counts (statistics projection) after reportGate decided and recorded the request",
	"Registry.reprojectStale":      "offline maintain: lists projections written before 0011, each then rewritten through the gate",
	"Registry.RebuildReportCounts": "offline: recomputes the report counts inside the database; nothing personal leaves it",
	"Registry.RegisterReport":      "aggregate counts after reportGate decided and recorded the request",
	"Registry.recordExclusion":     "counts one exclusion event: site, modality, kind and time, no person",
	"Registry.OpsStats":            "operational counts for metrics (open cases, checkpoint age): no personal data",
	"Registry.Login":               "portal login: checks a person's code and opens a session (audited by the login itself)",
	// Sessions and login counters shared by API nodes (store.Shared): MACs
	// of tokens and counter keys, no personal data.
	"Registry.AuthenticateSession":  "looks a portal session up by the MAC of its token",
	"Registry.StartUISession":       "stores a web session (MAC of its token) for a signed-in operator",
	"Registry.StartPortalUISession": "stores a web session riding on a portal session",
	"Registry.UISession":            "looks a web session up by the MAC of its token and moves its idle expiry on",
	"Registry.updateUISession":      "changes a web session's desk or expiry",
	"Registry.EndUISession":         "deletes a web session (and the portal session it rides on)",
	"Registry.DisableTOTP":          "reads the signed-in operator's own user name to re-authenticate them before the gated change",
	"Registry.passwordFailed":       "counts a wrong password toward the user name's lock",
	"Registry.pruneShared":          "deletes dead sessions and login counters",
	"Registry.PruneShared":          "deletes dead sessions and login counters",
	// The audit log: metadata, never names or templates.
	"AuditRows":            "reads audit entries to build the Merkle tree",
	"AuditCheckpointNotes": "reads signed checkpoints",
	// Operators and sites: no personal data.
	"Registry.ListSites":                "sites are not personal data",
	"Registry.ListAreas":                "areas and their targets are not personal data",
	"Registry.CreateOperator":           "operator keys are not personal data (offline keys create)",
	"Registry.Authenticate":             "looks an API key up (no personal data)",
	"Registry.RevokeOperator":           "operator keys are not personal data",
	"Registry.ListOperators":            "operator keys are not personal data",
	"Registry.AuthenticatePasswordCode": "looks an operator's user name and password hash up (no personal data)",
	"Registry.checkTOTP":                "reads and advances an operator's sealed TOTP secret at sign-in (no personal data)",
	"Registry.TOTPEnabled":              "whether the signed-in operator has TOTP on (own credential, no personal data)",
	"Registry.BeginTOTP":                "the signed-in operator's name for their own TOTP secret (no personal data)",
	"Registry.OperatorActor":            "checks a signed-in operator is not revoked (no personal data)",
}

// TestTransactionsGoThroughGuard fails when registry code opens a store
// transaction outside guard and outside the named exceptions above.
func TestTransactionsGoThroughGuard(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			owner := fn.Name.Name
			if fn.Recv != nil && len(fn.Recv.List) > 0 {
				typ := fn.Recv.List[0].Type
				if s, ok := typ.(*ast.StarExpr); ok {
					typ = s.X
				}
				if id, ok := typ.(*ast.Ident); ok {
					owner = id.Name + "." + owner
				}
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "View" && sel.Sel.Name != "Update") {
					return true
				}
				// x.store.View(...) or store.View(...) on a store.Store.
				if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "store" || isIdent(sel.X, "store", "db", "s") {
					found = append(found, owner)
					if _, ok := txOutsideGuard[owner]; !ok {
						t.Errorf("%s: %s opens a store transaction outside guard; go through r.guard (or name the exception, with why, in txOutsideGuard)",
							fset.Position(call.Pos()), owner)
					}
				}
				return true
			})
		}
	}
	for name := range txOutsideGuard {
		if !slices.Contains(found, name) {
			t.Errorf("txOutsideGuard names %s, which opens no transaction: remove it", name)
		}
	}
}

func isIdent(e ast.Expr, names ...string) bool {
	id, ok := e.(*ast.Ident)
	return ok && slices.Contains(names, id.Name)
}

// TestRegistryOwnsNoGallery: galleries, their loading and worker pools live
// behind the Galleries interface (internal/dedup), and bench population code
// lives in internal/benchpop: the registry package builds no engine gallery,
// imports no scan package and exports no bench method.
func TestRegistryOwnsNoGallery(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			if p := strings.Trim(im.Path.Value, `"`); p == "github.com/assent-registry/assent/internal/gallery" {
				t.Errorf("%s imports %s: 1:N scans belong to the gallery service", name, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && (id.Name == "fingerprint" || id.Name == "iris") && (x.Sel.Name == "Gallery" || x.Sel.Name == "NewGallery") {
					t.Errorf("%s: %s.%s: galleries belong to the gallery service (internal/dedup)", fset.Position(x.Pos()), id.Name, x.Sel.Name)
				}
			case *ast.FuncDecl:
				if x.Name.IsExported() && strings.Contains(x.Name.Name, "Bench") {
					t.Errorf("%s: %s: bench population code belongs in internal/benchpop", fset.Position(x.Pos()), x.Name.Name)
				}
			}
			return true
		})
	}
}
