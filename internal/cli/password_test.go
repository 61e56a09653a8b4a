package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestKeysCreateWithUser: --user reads the password (stdin when not a
// terminal), and the operator signs in by name; a short password creates
// nothing.
func TestKeysCreateWithUser(t *testing.T) {
	dir := newRegistryDir(t)
	for _, tc := range []struct {
		user, password string
		ok             bool
	}{
		{"dr.owusu", "a long pass phrase", true},
		{"dr.b", "short", false},
		{"Bad Name", "a long pass phrase", false},
	} {
		var out, errb bytes.Buffer
		root := newRootCmd(&out, &errb)
		root.SetArgs([]string{"keys", "create", "--data", dir, "--role", "clinician", "--user", tc.user})
		root.SetIn(strings.NewReader(tc.password + "\n"))
		err := root.ExecuteContext(context.Background())
		if (err == nil) != tc.ok {
			t.Fatalf("user %q password %q: err %v", tc.user, tc.password, err)
		}
	}
	ctx := context.Background()
	a, err := openApp(ctx, dir, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ops, err := a.reg.ListOperators(ctx)
	if err != nil || len(ops) != 1 {
		t.Fatalf("want exactly one operator (the refused ones made nothing), got %d: %v", len(ops), err)
	}
	if _, err := a.reg.AuthenticatePassword(ctx, "dr.owusu", "a long pass phrase", "test"); err != nil {
		t.Fatalf("sign-in by name: %v", err)
	}
}
