package registry

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
	"golang.org/x/crypto/argon2"
)

// Operators may sign in to the web interface with a user name and a
// password as well as with their API key. Passwords are kept as argon2id
// hashes in the PHC string form ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
// with the OWASP minimum parameters (19 MiB, 2 passes, 1 lane), so a stolen
// table is slow to attack. After MaxPasswordFailures wrong passwords (or
// TOTP codes) in a row, within passwordForget, a user name is locked for
// PasswordLockout; the count and the lock are kept in the store like the
// portal's (limits.go), so every API node enforces them and a restart does
// not lift them.
const (
	MinPasswordLen      = 12
	MaxPasswordFailures = 5
	PasswordLockout     = 15 * time.Minute
	passwordForget      = time.Hour // wrong passwords older than this are forgotten (keeps the table small)

	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

var userNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// hashPassword returns the PHC string of password under a fresh salt.
func hashPassword(password string) []byte {
	salt := randomBytes(16)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Appendf(nil, "$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// checkPassword compares password with a PHC string, in constant time.
func checkPassword(phc []byte, password string) bool {
	parts := strings.Split(string(phc), "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 10 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is compared against when the user name is unknown, so an
// unknown name costs as much time as a wrong password.
var dummyHash = sync.OnceValue(func() []byte { return hashPassword("assent-dummy-password") })

// CheckOperatorLogin checks a user name and password before use, so a
// caller can refuse them before creating anything.
func CheckOperatorLogin(user, password string) error {
	if !userNameRE.MatchString(strings.ToLower(strings.TrimSpace(user))) {
		return invalid("user", "2 to 64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return invalid("password", fmt.Sprintf("at least %d characters", MinPasswordLen))
	}
	if len(password) > 1024 {
		return invalid("password", "at most 1024 bytes")
	}
	return nil
}

// SetOperatorPassword gives an operator a user name and password for the
// web interface (an admin, or the CLI acting as one). A password has at
// least MinPasswordLen characters.
func (r *Registry) SetOperatorPassword(ctx context.Context, actor Actor, operatorID, user, password string) error {
	if v := consent.DecideOperation(actor.Role, consent.ManageOperators); !v.Allow {
		// Refused before validation; the gate records the attempt.
		return r.manageOperators(ctx, actor)
	}
	if err := CheckOperatorLogin(user, password); err != nil {
		return err
	}
	user = strings.ToLower(strings.TrimSpace(user))
	h := hashPassword(password)
	err := r.guard(ctx, operationAccess(actor, consent.ManageOperators), func(tx store.Tx, _ map[string]*facts) error {
		return tx.SetOperatorLogin(ctx, operatorID, user, h)
	})
	if errors.Is(err, store.ErrConflict) {
		return &InputError{Code: CodeInvalidValue, Field: "user", Detail: "another operator has this user name"}
	}
	return mapNotFound(err)
}

// passwordFailed counts a wrong password or code of user (failures older
// than passwordForget are forgotten) and reports whether the name is now
// locked. The counter is in the store, shared by every API node.
func (r *Registry) passwordFailed(ctx context.Context, user string, now time.Time) (bool, error) {
	var locked bool
	err := r.store.Update(ctx, func(tx store.Tx) error {
		var err error
		locked, err = fail(ctx, tx, r.counterKey(ctrUser, user), now, passwordForget, MaxPasswordFailures, PasswordLockout)
		return err
	})
	return locked, err
}

// AuthenticatePassword signs an operator in with user name and password.
// Wrong passwords count toward a lock of the user name (ErrLocked); the
// client address is rate limited like the portal's.
func (r *Registry) AuthenticatePassword(ctx context.Context, user, password, client string) (Actor, error) {
	return r.AuthenticatePasswordCode(ctx, user, password, "", client)
}

// AuthenticatePasswordCode is AuthenticatePassword with the operator's
// TOTP code, when they have turned TOTP on (totp.go): without a code it
// returns ErrCodeRequired after a right password; a wrong code counts
// toward the lock like a wrong password.
func (r *Registry) AuthenticatePasswordCode(ctx context.Context, user, password, code, client string) (Actor, error) {
	now := r.clock()
	user = strings.ToLower(strings.TrimSpace(user))
	r.pruneShared(ctx)
	var within, locked bool
	err := r.store.Update(ctx, func(tx store.Tx) error {
		var err error
		if within, err = hit(ctx, tx, r.counterKey(ctrPwClient, client), now, clientWindow, maxPerClient); err != nil || !within {
			return err
		}
		locked, err = lockedAt(ctx, tx, now, r.counterKey(ctrUser, user))
		return err
	})
	if err != nil {
		return Actor{}, err
	}
	if !within || locked {
		return Actor{}, fmt.Errorf("registry: password sign-in: %w", ErrLocked)
	}
	var o store.Operator
	var h []byte
	err = r.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, h, err = tx.OperatorByUser(ctx, user)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Actor{}, err
	}
	ok := false
	if err != nil || len(h) == 0 {
		checkPassword(dummyHash(), password)
	} else {
		ok = checkPassword(h, password)
	}
	if !ok {
		if locked, err := r.passwordFailed(ctx, user, now); err != nil || locked {
			return Actor{}, errors.Join(fmt.Errorf("registry: password sign-in: %w", ErrLocked), err)
		}
		return Actor{}, fmt.Errorf("registry: password sign-in: %w", ErrUnauthenticated)
	}
	if err := r.checkTOTP(ctx, o.ID, code, now); err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			if locked, err2 := r.passwordFailed(ctx, user, now); err2 != nil || locked {
				return Actor{}, errors.Join(fmt.Errorf("registry: password sign-in: %w", ErrLocked), err2)
			}
		}
		return Actor{}, err
	}
	if err := r.store.Update(ctx, func(tx store.Tx) error { return tx.DeleteCounter(ctx, r.counterKey(ctrUser, user)) }); err != nil {
		return Actor{}, err
	}
	return Actor{OperatorID: o.ID, Role: consent.Role(o.Role), Site: o.Site}, nil
}

// OperatorActor returns the actor of an operator that is not revoked, for
// an interface that checks its session again on every request.
func (r *Registry) OperatorActor(ctx context.Context, id string) (Actor, error) {
	var o store.Operator
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = tx.GetOperator(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.RevokedAt != nil) {
		return Actor{}, fmt.Errorf("registry: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Actor{}, err
	}
	return Actor{OperatorID: o.ID, Role: consent.Role(o.Role), Site: o.Site}, nil
}
