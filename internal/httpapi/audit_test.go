package httpapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"testing"

	"github.com/assent-registry/assent/auditproof"
	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/registry"
)

// TestPersonSeesEveryAccess is the audit acceptance flow: a registrar reads
// a person a few times, a clinician is refused once, then the person logs
// in with the receipt code and finds each access, the denied one included,
// with inclusion proofs that check against the signed checkpoint.
func TestPersonSeesEveryAccess(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adultBody("Ada"))
	id := reg.str("id")
	code := reg.body["receipt"].(map[string]any)["code"].(string)
	for range 3 {
		e.must(200, req{method: "GET", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration"})
	}
	e.must(403, req{method: "GET", path: "/v1/persons/" + id, role: consent.Researcher, purpose: "research"})

	e.must(401, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": "WRONG-CODE"}})
	sess := e.must(200, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}})
	token := sess.str("token")
	log := e.must(200, req{method: "GET", path: "/v1/persons/" + id + "/access-log", key: token})
	entries := log.body["entries"].([]any)
	var reads, denied int
	for _, x := range entries {
		en := x.(map[string]any)
		if en["route"] == "GET /v1/persons/{id}" && en["outcome"] == "allow" && en["role"] == "registrar" {
			reads++
		}
		if en["outcome"] == "deny" && en["role"] == "researcher" && en["reason"] == "purpose_not_allowed" {
			denied++
		}
	}
	if reads != 3 || denied != 1 {
		t.Fatalf("access log shows %d registrar reads and %d denials, want 3 and 1:\n%s", reads, denied, log.raw)
	}
	// Every entry proves its inclusion in the signed checkpoint.
	vkey := log.str("verifier_key")
	cp, err := auditproof.OpenCheckpoint([]byte(log.str("checkpoint")), vkey)
	if err != nil {
		t.Fatalf("checkpoint does not verify: %v", err)
	}
	for _, x := range entries {
		en := x.(map[string]any)
		idx := uint64(en["index"].(float64))
		if idx >= cp.Size {
			continue
		}
		leaf, _ := base64.StdEncoding.DecodeString(en["leaf_hash"].(string))
		var proof [][]byte
		for _, h := range en["inclusion_proof"].([]any) {
			b, _ := base64.StdEncoding.DecodeString(h.(string))
			proof = append(proof, b)
		}
		if err := auditproof.VerifyInclusionHash(cp, idx, leaf, proof); err != nil {
			t.Errorf("entry %d: inclusion proof fails: %v", idx, err)
		}
	}
	// The person's token reaches only their own record, and no operator route.
	other := e.register(adultBody("Bea")).str("id")
	e.must(403, req{method: "GET", path: "/v1/persons/" + other + "/access-log", key: token})
	e.must(403, req{method: "GET", path: "/v1/persons/" + id, key: token, purpose: "registration"})
}

func TestPortalLockout(t *testing.T) {
	e := newEnv(t)
	reg := e.register(adultBody("Ada"))
	id := reg.str("id")
	code := reg.body["receipt"].(map[string]any)["code"].(string)
	for range 5 {
		e.must(401, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": "AAAA-BBBB-CCCC-DDDD"}})
	}
	// Locked: even the right code is refused for now.
	e.must(429, req{method: "POST", path: "/v1/portal/login", body: map[string]any{"person_id": id, "code": code}})
}

func TestAuditEndpointsAndVerify(t *testing.T) {
	e := newEnv(t)
	id := e.register(adultBody("Ada")).str("id")
	e.must(200, req{method: "GET", path: "/v1/persons/" + id, role: consent.Registrar, purpose: "registration"})
	cpResp := e.must(200, req{method: "GET", path: "/v1/audit/checkpoint"})
	key := e.must(200, req{method: "GET", path: "/v1/audit/key"}).str("verifier_key")
	cp, err := auditproof.OpenCheckpoint(cpResp.raw, key)
	if err != nil || cp.Size < 2 {
		t.Fatalf("checkpoint: %v size %d\n%s", err, cp.Size, cpResp.raw)
	}
	evs := e.must(200, req{method: "GET", path: "/v1/audit/events?from=0", role: consent.Auditor})
	// The auditor's read is itself decided and recorded, before the read.
	all := evs.body["events"].([]any)
	if n := len(all); uint64(n) != cp.Size+1 {
		t.Errorf("auditor sees %d events, checkpoint has %d (+1, the auditor's read)", n, cp.Size)
	} else if last := all[n-1].(map[string]any); last["action"] != "read_audit_log" || last["role"] != "auditor" {
		t.Errorf("the auditor's read is not the last event: %v", last)
	}
	e.must(403, req{method: "GET", path: "/v1/audit/events", role: consent.Registrar})
	e.must(200, req{method: "GET", path: fmt.Sprintf("/v1/audit/proof/inclusion?index=0&size=%d", cp.Size)})
	e.must(200, req{method: "GET", path: fmt.Sprintf("/v1/audit/proof/consistency?from=1&to=%d", cp.Size)})
	e.must(400, req{method: "GET", path: "/v1/audit/proof/inclusion?index=5&size=2"})
	e.must(400, req{method: "GET", path: "/v1/audit/proof/inclusion?index=x&size=2"})
	st := e.must(200, req{method: "GET", path: "/v1/audit/stats", role: consent.Auditor})
	if st.body["events"].(float64) < 2 {
		t.Errorf("stats: %s", st.raw)
	}
	ctx := context.Background()
	notes, err := registry.AuditCheckpointNotes(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(ctx, registry.AuditRows(ctx, e.db), notes, key); err != nil {
		t.Errorf("fresh log does not verify: %v", err)
	}
	_ = http.StatusOK
}
