package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/auditproof"
	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
)

// node is one API node: its own connection pool, keyring, audit log and
// registry, over the database the other nodes use.
type node struct {
	db   *DB
	reg  *registry.Registry
	log  *audit.Log
	keys *envelope.Keyring
}

// openNodes starts n API nodes over one fresh schema, sharing the master
// key and the key store as nodes do (one keys database).
func openNodes(tb testing.TB, n int, maxConns int) []node {
	tb.Helper()
	ctx := context.Background()
	url := testURL(tb)
	schema := freshSchema(tb, url)
	master, err := envelope.GenerateMasterKey()
	if err != nil {
		tb.Fatal(err)
	}
	keys := &envelope.MemStore{}
	var out []node
	for range n {
		db, err := Open(ctx, url, Options{Migrate: true, Schema: schema, MaxConns: maxConns})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { db.Close() })
		kr, err := envelope.NewKeyring(ctx, keys, master, envelope.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		alog, err := registry.NewAuditLog(ctx, db, kr, nil, nil)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, node{db: db, reg: registry.New(db, kr, registry.Options{Audit: alog}), log: alog, keys: kr})
	}
	if _, err := out[0].reg.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		tb.Fatal(err)
	}
	if _, err := out[0].reg.CreateSite(ctx, registry.Actor{Role: consent.Admin}, registry.NewSite{Code: "s1", Name: "Site one", AreaCode: "A"}); err != nil {
		tb.Fatal(err)
	}
	return out
}

var nodeRegistrar = registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}

func enrolOn(ctx context.Context, r *registry.Registry, i int) (registry.Registered, error) {
	return r.CreatePerson(ctx, nodeRegistrar, consent.Registration, registry.NewPerson{
		GivenName: fmt.Sprintf("Given%d", i), FamilyName: "Family", BirthDate: "1985-06-07", Sex: "female", AreaCode: "A",
		Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}})
}

// TestNodesShareSessions: a portal session and a web session made on one
// node are valid on the other; a desk chosen on one is seen on the other;
// sign-out on one ends the session everywhere.
func TestNodesShareSessions(t *testing.T) {
	ns := openNodes(t, 2, 4)
	a, b := ns[0].reg, ns[1].reg
	ctx := context.Background()
	p, err := enrolOn(ctx, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := a.Login(ctx, p.ID, p.Receipt.Code, "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	if act, err := b.AuthenticateSession(ctx, s.Token); err != nil || act.PersonID != p.ID || act.Role != consent.Subject {
		t.Fatalf("portal session of node A on node B: %+v %v", act, err)
	}
	now := time.Now()
	op, _, err := a.CreateOperator(ctx, registry.NewOperator{Role: consent.Registrar, Site: "s1", Name: "R"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.StartUISession(ctx, registry.UISession{OperatorID: op.ID, Role: consent.Registrar}, now)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := b.UISession(ctx, tok, now); err != nil || u.OperatorID != op.ID {
		t.Fatalf("web session of node A on node B: %+v %v", u, err)
	}
	if err := b.SetUISessionPurpose(ctx, tok, consent.Registration, now); err != nil {
		t.Fatal(err)
	}
	if u, err := a.UISession(ctx, tok, now); err != nil || u.Purpose != consent.Registration {
		t.Fatalf("desk chosen on node B, seen on node A: %+v %v", u, err)
	}
	ptok, err := b.StartPortalUISession(ctx, s.Token, now)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := a.UISession(ctx, ptok, now); err != nil || u.PersonID != p.ID {
		t.Fatalf("person's web session of node B on node A: %+v %v", u, err)
	}
	for _, x := range []struct {
		end, check *registry.Registry
		token      string
	}{{b, a, tok}, {a, b, ptok}} {
		if err := x.end.EndUISession(ctx, x.token); err != nil {
			t.Fatal(err)
		}
		if _, err := x.check.UISession(ctx, x.token, now); !errors.Is(err, registry.ErrUnauthenticated) {
			t.Errorf("session ended on one node still valid on the other: %v", err)
		}
	}
	if _, err := b.AuthenticateSession(ctx, s.Token); !errors.Is(err, registry.ErrUnauthenticated) {
		t.Errorf("the person's sign-out left their portal session valid: %v", err)
	}
}

// TestNodesShareLimits: failures on node A lock the person (for that
// client) and the operator's user name on node B; a client's rate is
// counted over both nodes.
func TestNodesShareLimits(t *testing.T) {
	ns := openNodes(t, 2, 4)
	a, b := ns[0].reg, ns[1].reg
	ctx := context.Background()
	p, err := enrolOn(ctx, a, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := a.Login(ctx, p.ID, "WRONG", "203.0.113.1"); !errors.Is(err, registry.ErrUnauthenticated) {
			t.Fatalf("wrong code on A: %v", err)
		}
	}
	if _, err := b.Login(ctx, p.ID, p.Receipt.Code, "203.0.113.1"); !errors.Is(err, registry.ErrLocked) {
		t.Fatalf("right code on B after 5 failures on A from the same client: %v, want ErrLocked", err)
	}
	if _, err := b.Login(ctx, p.ID, p.Receipt.Code, "198.51.100.2"); err != nil {
		t.Fatalf("another client on B: %v", err)
	}
	// Password lock of a user name.
	admin := registry.Actor{Role: consent.Admin}
	op, _, err := a.CreateOperator(ctx, registry.NewOperator{Role: consent.Clinician, Site: "s1", Name: "C"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetOperatorPassword(ctx, admin, op.ID, "clin", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	for i := range registry.MaxPasswordFailures {
		_, err := a.AuthenticatePassword(ctx, "clin", "wrong password!", fmt.Sprintf("192.0.2.%d", i))
		if err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if _, err := b.AuthenticatePassword(ctx, "clin", "correct horse battery", "192.0.2.100"); !errors.Is(err, registry.ErrLocked) {
		t.Fatalf("right password on B after %d failures on A: %v, want ErrLocked", registry.MaxPasswordFailures, err)
	}
	// A client's rate: 20 attempts a minute over both nodes.
	for i := range 20 {
		r := []*registry.Registry{a, b}[i%2]
		if _, err := r.Login(ctx, fmt.Sprintf("no-such-%d", i), "WRONG", "192.0.2.250"); !errors.Is(err, registry.ErrUnauthenticated) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	for _, r := range []*registry.Registry{a, b} {
		if _, err := r.Login(ctx, "no-such-x", "WRONG", "192.0.2.250"); !errors.Is(err, registry.ErrLocked) {
			t.Errorf("21st attempt of a client: %v, want ErrLocked", err)
		}
	}
}

// TestNodesAuditOneLog: both nodes write audited changes at once while
// both cut checkpoints; afterwards the log verifies with every checkpoint,
// checkpoints have distinct sizes in order, and inclusion proofs from
// either node verify against the last checkpoint.
func TestNodesAuditOneLog(t *testing.T) {
	ns := openNodes(t, 2, 4)
	ctx := context.Background()
	const writers, each = 3, 8
	var wg sync.WaitGroup
	errc := make(chan error, 2*writers*each+100)
	for ni, n := range ns {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := enrolOn(ctx, n.reg, ni*1000+w*100+i); err != nil {
						errc <- fmt.Errorf("node %d: %w", ni, err)
					}
				}
			})
		}
		wg.Go(func() {
			for range 10 {
				if _, err := n.reg.Checkpoint(ctx); err != nil {
					errc <- fmt.Errorf("node %d checkpoint: %w", ni, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	var cps []audit.SignedCheckpoint
	for _, n := range ns {
		cp, err := n.reg.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	if cps[0].Size != cps[1].Size || string(cps[0].Note) != string(cps[1].Note) {
		t.Fatalf("the nodes' latest checkpoints differ: %d and %d", cps[0].Size, cps[1].Size)
	}
	notes, err := registry.AuditCheckpointNotes(ctx, ns[0].db)
	if err != nil {
		t.Fatal(err)
	}
	vkey := ns[0].reg.AuditVerifierKey()
	if vkey != ns[1].reg.AuditVerifierKey() {
		t.Fatal("the nodes sign with different keys")
	}
	rep, err := audit.Verify(ctx, registry.AuditRows(ctx, ns[0].db), notes, vkey)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify over both nodes' entries: %v %+v", err, rep.Problems)
	}
	if rep.Checkpoints != len(notes) || rep.Entries < 2*writers*each || rep.LatestCheckpoint != rep.Entries {
		t.Fatalf("report: %d entries, %d/%d checkpoints, latest %d", rep.Entries, rep.Checkpoints, len(notes), rep.LatestCheckpoint)
	}
	cp, err := auditproof.OpenCheckpoint(cps[0].Note, vkey)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[uint64][]byte{}
	for r, err := range registry.AuditRows(ctx, ns[0].db) {
		if err != nil {
			t.Fatal(err)
		}
		rows[r.Index] = r.Data
	}
	for _, idx := range []uint64{0, cp.Size / 2, cp.Size - 1} {
		for ni, n := range ns {
			pr, err := n.reg.InclusionProof(ctx, idx, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := auditproof.VerifyInclusion(cp, idx, rows[idx], pr); err != nil {
				t.Errorf("node %d's proof of entry %d: %v", ni, idx, err)
			}
		}
	}
	t.Logf("%d entries, %d checkpoints from two nodes", rep.Entries, len(notes))
}

// savesCounted counts, over all nodes, how often each checkpoint size is
// saved.
type savesCounted struct {
	registry.AuditStore
	mu    *sync.Mutex
	saves map[uint64]int
}

func (s savesCounted) SaveCheckpoint(ctx context.Context, size uint64, note []byte) error {
	s.mu.Lock()
	s.saves[size]++
	s.mu.Unlock()
	return s.AuditStore.SaveCheckpoint(ctx, size, note)
}

// TestNodesCutEachCheckpointOnce: two nodes' audit logs over one database,
// both cutting as fast as they can while both nodes write: the lease lets
// one cut at a time, so no size is signed and saved twice.
func TestNodesCutEachCheckpointOnce(t *testing.T) {
	ns := openNodes(t, 2, 4)
	ctx := context.Background()
	var mu sync.Mutex
	saves := map[uint64]int{}
	var logs []*audit.Log
	for _, n := range ns {
		signer, err := registry.AuditSigner(ctx, n.keys)
		if err != nil {
			t.Fatal(err)
		}
		as := savesCounted{AuditStore: registry.NewAuditStore(n.db, nil), mu: &mu, saves: saves}
		l, err := audit.NewLog(audit.Config{Leaves: as, Checkpoints: as, Signer: signer, Lease: as})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writers sync.WaitGroup
	for ni, n := range ns {
		writers.Go(func() {
			for i := range 15 {
				if _, err := enrolOn(ctx, n.reg, ni*1000+i); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for ni, l := range logs {
		wg.Go(func() {
			for {
				if _, err := l.Checkpoint(ctx); err != nil {
					t.Errorf("node %d: %v", ni, err)
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for size, n := range saves {
		if n != 1 {
			t.Errorf("checkpoint of size %d saved %d times", size, n)
		}
	}
	if len(saves) < 2 {
		t.Errorf("only %d checkpoints cut", len(saves))
	}
	t.Logf("%d checkpoints, each cut once, by two nodes", len(saves))
}
