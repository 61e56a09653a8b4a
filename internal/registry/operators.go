package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

const (
	apiKeyLabel  = "api-key"
	apiKeyPrefix = "assent_"
)

// NewSite is a site registration (admin).
type NewSite struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	AreaCode string `json:"area_code"`
}

// SiteView is a site as the API shows it.
type SiteView struct {
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	AreaCode  string    `json:"area_code"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateSite registers a site. Only admins may; sites hold no personal data.
func (r *Registry) CreateSite(ctx context.Context, actor Actor, in NewSite) (SiteView, error) {
	if v := consent.DecideOperation(actor.Role, consent.ManageSites); !v.Allow {
		// Decided before validation so a refused role learns nothing; the
		// gate below records the attempt.
		if err := r.guard(ctx, operationAccess(actor, consent.ManageSites), func(store.Tx, map[string]*facts) error { return nil }); err != nil {
			return SiteView{}, err
		}
	}
	if in.Code == "" {
		return SiteView{}, missing("code")
	}
	if !areaCodeRE.MatchString(in.Code) {
		return SiteView{}, invalid("code", "letters, digits, '.', '_' or '-', at most 32")
	}
	if err := checkName("name", in.Name); err != nil {
		return SiteView{}, err
	}
	if err := checkArea(in.AreaCode); err != nil {
		return SiteView{}, err
	}
	s := store.Site{Code: in.Code, Name: strings.TrimSpace(in.Name), AreaCode: in.AreaCode, CreatedAt: r.clock()}
	err := r.guard(ctx, operationAccess(actor, consent.ManageSites), func(tx store.Tx, _ map[string]*facts) error {
		if err := requireArea(ctx, tx, s.AreaCode); err != nil {
			return err
		}
		return tx.CreateSite(ctx, s)
	})
	if errors.Is(err, store.ErrConflict) {
		return SiteView{}, &InputError{Code: CodeSiteExists, Field: "code", Detail: "a site with this code exists"}
	}
	if err != nil {
		return SiteView{}, err
	}
	return SiteView(s), nil
}

// ListSites lists the sites (public metadata).
func (r *Registry) ListSites(ctx context.Context) ([]SiteView, error) {
	out := []SiteView{}
	err := r.store.View(ctx, func(tx store.Tx) error {
		out = out[:0] // a backend may retry this function
		ss, err := tx.ListSites(ctx)
		for _, s := range ss {
			out = append(out, SiteView(s))
		}
		return err
	})
	return out, err
}

// NewOperator describes an API key to create.
type NewOperator struct {
	Role consent.Role
	Site string
	Name string
}

// OperatorView is an operator without its key.
type OperatorView struct {
	ID        string     `json:"id"`
	Role      string     `json:"role"`
	Site      string     `json:"site,omitempty"`
	Name      string     `json:"name,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// CreateOperator makes a new operator and returns its API key, which is
// shown only here: the store keeps its HMAC. A site, when given, must exist.
func (r *Registry) CreateOperator(ctx context.Context, in NewOperator) (OperatorView, string, error) {
	if in.Role == consent.Subject || !in.Role.Valid() {
		return OperatorView{}, "", invalid("role", "must be one of admin, registrar, clinician, verifier, adjudicator, researcher, auditor")
	}
	key := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
	o := store.Operator{ID: newID(), Role: string(in.Role), Site: in.Site, Name: in.Name, KeyMAC: r.keys.MAC(apiKeyLabel, []byte(key)), CreatedAt: r.clock()}
	err := r.store.Update(ctx, func(tx store.Tx) error {
		if in.Site != "" {
			if _, err := tx.GetSite(ctx, in.Site); errors.Is(err, store.ErrNotFound) {
				return &InputError{Code: CodeUnknownSite, Field: "site", Detail: "no such site; create it first"}
			} else if err != nil {
				return err
			}
		}
		return tx.CreateOperator(ctx, o)
	})
	if err != nil {
		return OperatorView{}, "", err
	}
	return operatorView(o), key, nil
}

func operatorView(o store.Operator) OperatorView {
	return OperatorView{ID: o.ID, Role: o.Role, Site: o.Site, Name: o.Name, CreatedAt: o.CreatedAt, RevokedAt: o.RevokedAt}
}

// ListOperators lists every operator, revoked ones included.
func (r *Registry) ListOperators(ctx context.Context) ([]OperatorView, error) {
	out := []OperatorView{}
	err := r.store.View(ctx, func(tx store.Tx) error {
		out = out[:0] // a backend may retry this function
		os, err := tx.ListOperators(ctx)
		for _, o := range os {
			out = append(out, operatorView(o))
		}
		return err
	})
	return out, err
}

// RevokeOperator revokes an operator's key at once.
func (r *Registry) RevokeOperator(ctx context.Context, id string) error {
	err := r.store.Update(ctx, func(tx store.Tx) error { return tx.RevokeOperator(ctx, id, r.clock()) })
	return mapNotFound(err)
}

// Authenticate finds the operator holding key. It looks the key up by its
// HMAC, so the comparison is of MACs in an index, never of keys.
func (r *Registry) Authenticate(ctx context.Context, key string) (Actor, error) {
	if !strings.HasPrefix(key, apiKeyPrefix) || len(key) > 100 {
		return Actor{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	var o store.Operator
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = tx.OperatorByKeyMAC(ctx, r.keys.MAC(apiKeyLabel, []byte(key)))
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Actor{}, err
	}
	return Actor{OperatorID: o.ID, Role: consent.Role(o.Role), Site: o.Site}, nil
}
