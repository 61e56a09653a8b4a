package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/assent-registry/assent/internal/store"
	"github.com/jackc/pgx/v5"
)

// --- biometrics ---

const biometricCols = `reference_id, person_id, category, position, format, purpose, quality, template_sealed, created_at`

func scanBiometric(r pgx.Row) (store.Biometric, error) {
	var b store.Biometric
	var at int64
	err := r.Scan(&b.ReferenceID, &b.PersonID, &b.Category, &b.Position, &b.Format, &b.Purpose, &b.Quality, &b.TemplateSealed, &at)
	b.CreatedAt = fromMS(at)
	return b, err
}

func (t *tx) AddBiometric(ctx context.Context, b store.Biometric) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO biometrics(`+biometricCols+`, dedup_seq) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
		b.ReferenceID, b.PersonID, b.Category, b.Position, b.Format, b.Purpose, b.Quality, b.TemplateSealed, ms(b.CreatedAt), b.DedupSeq)
	if err != nil {
		return t.fail("add biometric", err)
	}
	return nil
}

func (t *tx) ListBiometrics(ctx context.Context, personID string) ([]store.Biometric, error) {
	return collect(ctx, t, "list biometrics",
		`SELECT `+biometricCols+` FROM biometrics WHERE person_id = $1 ORDER BY created_at, reference_id`, scanBiometric, personID)
}

// DeleteBiometrics removes a person's references of one category, or all
// of them when category is empty.
func (t *tx) DeleteBiometrics(ctx context.Context, personID, category string) error {
	var err error
	if category == "" {
		_, err = t.tx.Exec(ctx, `DELETE FROM biometrics WHERE person_id = $1`, personID)
	} else {
		_, err = t.tx.Exec(ctx, `DELETE FROM biometrics WHERE person_id = $1 AND category = $2`, personID, category)
	}
	if err != nil {
		return t.fail("delete biometrics", err)
	}
	return nil
}

// BiometricsPage lists references of category with reference_id > after,
// in reference_id order, of active persons that are not aliases.
func (t *tx) BiometricsPage(ctx context.Context, category, after string, limit int) ([]store.Biometric, error) {
	return collect(ctx, t, "biometrics page",
		`SELECT b.reference_id, b.person_id, b.category, b.position, b.format, b.purpose, b.quality, b.template_sealed, b.created_at
		FROM biometrics b JOIN persons p ON p.id = b.person_id
		WHERE b.category = $1 AND b.reference_id > $2 AND p.status = $3 AND p.alias_of = ''
		ORDER BY b.reference_id LIMIT $4`, scanBiometric, category, after, store.StatusActive, limit)
}

// --- cases ---

const caseCols = `id, status, person_a, person_b, score, modalities, decision, note, decided_by, created_at, decided_at`

func scanCase(r pgx.Row) (store.Case, error) {
	var c store.Case
	var at int64
	var dec *int64
	err := r.Scan(&c.ID, &c.Status, &c.PersonA, &c.PersonB, &c.Score, &c.Modalities, &c.Decision, &c.Note, &c.DecidedBy, &at, &dec)
	c.CreatedAt = fromMS(at)
	if dec != nil {
		d := fromMS(*dec)
		c.DecidedAt = &d
	}
	return c, err
}

// OpenCase inserts c as an open case, or, when the pair already has an open
// case, raises that case's score to c.Score if higher, adds c's modalities
// to its list, and returns it. A concurrent OpenCase for the same pair loses
// on the partial unique index (or a serialization failure) and is retried.
func (t *tx) OpenCase(ctx context.Context, c store.Case) (store.Case, error) {
	existing, err := scanCase(t.tx.QueryRow(ctx, `SELECT `+caseCols+` FROM cases WHERE person_a = $1 AND person_b = $2 AND status = $3`,
		c.PersonA, c.PersonB, store.CaseOpen))
	switch {
	case err == nil:
		existing.Score = max(existing.Score, c.Score)
		existing.Modalities = mergeModalities(existing.Modalities, c.Modalities)
		if _, err := t.tx.Exec(ctx, `UPDATE cases SET score = $1, modalities = $2 WHERE id = $3`, existing.Score, existing.Modalities, existing.ID); err != nil {
			return c, t.fail("open case", err)
		}
		return existing, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return c, t.fail("open case", err)
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO cases(id, status, person_a, person_b, score, modalities, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		c.ID, store.CaseOpen, c.PersonA, c.PersonB, c.Score, c.Modalities, ms(c.CreatedAt))
	if err != nil {
		return c, t.fail("open case", err)
	}
	c.Status = store.CaseOpen
	return c, nil
}

// mergeModalities joins two comma-separated lists, first occurrence first,
// without empty items or repeats.
func mergeModalities(a, b string) string {
	seen := map[string]bool{}
	var list []string
	for _, m := range strings.Split(a+","+b, ",") {
		if m != "" && !seen[m] {
			seen[m] = true
			list = append(list, m)
		}
	}
	return strings.Join(list, ",")
}

func (t *tx) GetCase(ctx context.Context, id string) (store.Case, error) {
	c, err := scanCase(t.tx.QueryRow(ctx, `SELECT `+caseCols+` FROM cases WHERE id = $1`, id))
	if err != nil {
		return store.Case{}, t.fail("get case", err)
	}
	return c, nil
}

func (t *tx) ListCases(ctx context.Context, status string, limit int) ([]store.Case, error) {
	return collect(ctx, t, "list cases",
		`SELECT `+caseCols+` FROM cases WHERE status = $1 ORDER BY created_at, id LIMIT $2`, scanCase, status, limit)
}

func (t *tx) CasesOf(ctx context.Context, personID string) ([]store.Case, error) {
	return collect(ctx, t, "cases of",
		`SELECT `+caseCols+` FROM cases WHERE person_a = $1 OR person_b = $1 ORDER BY created_at, id`, scanCase, personID)
}

// DecideCase records the decision of an open case; store.ErrConflict when
// no open case has c.ID (as the SQLite store).
func (t *tx) DecideCase(ctx context.Context, c store.Case) error {
	var at *int64
	if c.DecidedAt != nil {
		v := ms(*c.DecidedAt)
		at = &v
	}
	tag, err := t.tx.Exec(ctx, `UPDATE cases SET status = $1, decision = $2, note = $3, decided_by = $4, decided_at = $5 WHERE id = $6 AND status = $7`,
		store.CaseDecided, c.Decision, c.Note, c.DecidedBy, at, c.ID, store.CaseOpen)
	if err := t.affected("decide case", tag, err); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("postgres: decide case: not open: %w", store.ErrConflict)
		}
		return err
	}
	return nil
}
