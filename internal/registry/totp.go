package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/totp"
)

// An operator who signs in with a password may turn on a TOTP second
// factor (RFC 6238, internal/totp). The secret is sealed with the keyring
// under the operator's own owner ("operator:<id>"), category
// totpCategory, so the table never holds it in clear; the last time step
// accepted is kept so a code is used once.
const (
	totpCategory = "operator_credential"
	totpKind     = "totp.secret"
	// TOTPIssuer names the registry in authenticator apps.
	TOTPIssuer = "Assent"
)

// ErrCodeRequired is a right password of an operator with TOTP on, given
// without a code: the interface asks for it.
var ErrCodeRequired = errors.New("one-time code required")

func totpOwner(operatorID string) string { return "operator:" + operatorID }

// checkTOTP accepts a sign-in when the operator has TOTP off, or code is
// right and of a step not used before.
func (r *Registry) checkTOTP(ctx context.Context, operatorID, code string, now time.Time) error {
	var sealed []byte
	var last int64
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		sealed, last, err = tx.OperatorTOTP(ctx, operatorID)
		return err
	})
	if err != nil {
		return err
	}
	if sealed == nil {
		return nil
	}
	if code == "" {
		return fmt.Errorf("registry: password sign-in: %w", ErrCodeRequired)
	}
	secret, err := r.keys.Open(ctx, totpOwner(operatorID), totpCategory, totpKind, sealed)
	if err != nil {
		return fmt.Errorf("registry: totp: %w", err)
	}
	defer clear(secret)
	step, ok := totp.Verify(secret, code, now, last)
	if !ok {
		return fmt.Errorf("registry: password sign-in: wrong code: %w", ErrUnauthenticated)
	}
	err = r.store.Update(ctx, func(tx store.Tx) error { return tx.UseOperatorTOTPStep(ctx, operatorID, step) })
	if errors.Is(err, store.ErrConflict) { // the same code raced in twice
		return fmt.Errorf("registry: password sign-in: code used: %w", ErrUnauthenticated)
	}
	return err
}

// TOTPEnabled reports whether the signed-in operator has TOTP on.
func (r *Registry) TOTPEnabled(ctx context.Context, actor Actor) (bool, error) {
	if actor.OperatorID == "" {
		return false, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	var sealed []byte
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		sealed, _, err = tx.OperatorTOTP(ctx, actor.OperatorID)
		return err
	})
	return sealed != nil, mapNotFound(err)
}

// NewTOTPSecret returns a fresh secret and its otpauth:// URI for account,
// to be shown once and confirmed with EnableTOTP. Nothing is stored yet.
func NewTOTPSecret(account string) (secret []byte, uri string) {
	s := totp.NewSecret()
	return s, totp.URI(TOTPIssuer, account, s)
}

// BeginTOTP returns the otpauth:// URI of secret (a fresh one when nil)
// for the signed-in operator, named in the app by their operator name.
func (r *Registry) BeginTOTP(ctx context.Context, actor Actor, secret []byte) ([]byte, string, error) {
	if actor.OperatorID == "" {
		return nil, "", fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	var o store.Operator
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = tx.GetOperator(ctx, actor.OperatorID)
		return err
	})
	if err != nil {
		return nil, "", mapNotFound(err)
	}
	if secret == nil {
		secret = totp.NewSecret()
	}
	return secret, totp.URI(TOTPIssuer, o.Name, secret), nil
}

// EnableTOTP turns TOTP on for the signed-in operator once code, the first
// code of secret, is right. It replaces a secret set before. The change is
// the manage_own_credential operation, decided by the policy and audited.
func (r *Registry) EnableTOTP(ctx context.Context, actor Actor, secret []byte, code string) error {
	if actor.OperatorID == "" {
		return fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	if len(secret) < 16 {
		return invalid("secret", "malformed")
	}
	step, ok := totp.Verify(secret, code, r.clock(), 0)
	if !ok {
		return invalid("code", "not the current code of this secret; check the device's clock")
	}
	sealed, err := r.keys.Seal(ctx, totpOwner(actor.OperatorID), totpCategory, totpKind, secret)
	if err != nil {
		return fmt.Errorf("registry: totp: %w", err)
	}
	err = r.guard(ctx, operationAccess(actor, consent.ManageOwnCredential), func(tx store.Tx, _ map[string]*facts) error {
		return tx.SetOperatorTOTP(ctx, actor.OperatorID, sealed, step)
	})
	return mapNotFound(err)
}

// DisableTOTP turns the signed-in operator's own TOTP off once they have
// signed in again: user, password and a current code must be right
// (AuthenticatePasswordCode: a wrong password or code counts toward the
// user name's lock, and the code is used once) and must name the operator
// of actor. The change is the manage_own_credential operation, decided by
// the policy and audited. With TOTP already off it returns an InputError
// (field "code").
func (r *Registry) DisableTOTP(ctx context.Context, actor Actor, password, code, client string) error {
	if actor.OperatorID == "" {
		return fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	// The operator re-authenticates as the user name their record holds
	// (sessions keep no user name).
	var user string
	if err := r.store.View(ctx, func(tx store.Tx) error {
		o, err := tx.GetOperator(ctx, actor.OperatorID)
		user = o.User
		return err
	}); err != nil {
		return mapNotFound(err)
	}
	if user == "" {
		return fmt.Errorf("registry: totp off: no password sign-in: %w", ErrUnauthenticated)
	}
	on, err := r.TOTPEnabled(ctx, actor)
	if err != nil {
		return err
	}
	if !on {
		return invalid("code", "two-step sign-in is off")
	}
	if code == "" {
		return fmt.Errorf("registry: totp off: %w", ErrCodeRequired)
	}
	again, err := r.AuthenticatePasswordCode(ctx, user, password, code, client)
	if err != nil {
		return err
	}
	if again.OperatorID != actor.OperatorID {
		return fmt.Errorf("registry: totp off: another operator's credentials: %w", ErrUnauthenticated)
	}
	err = r.guard(ctx, operationAccess(actor, consent.ManageOwnCredential), func(tx store.Tx, _ map[string]*facts) error {
		return tx.SetOperatorTOTP(ctx, actor.OperatorID, nil, 0)
	})
	return mapNotFound(err)
}

// ResetOperatorTOTP turns an operator's TOTP off (a lost device): the
// manage_operators operation (admins), decided by the policy and audited.
// The operator signs in with the password alone and may turn TOTP on again.
func (r *Registry) ResetOperatorTOTP(ctx context.Context, actor Actor, operatorID string) error {
	err := r.guard(ctx, operationAccess(actor, consent.ManageOperators), func(tx store.Tx, _ map[string]*facts) error {
		return tx.SetOperatorTOTP(ctx, operatorID, nil, 0)
	})
	return mapNotFound(err)
}
