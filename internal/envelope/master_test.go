package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadOrCreateMasterKeyCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	m, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateMasterKey: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %#o, want 0600", got)
	}
	dst, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := dst.Mode().Perm(); got != 0o700 {
		t.Errorf("created directory mode = %#o, want 0700", got)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 65 || b[64] != '\n' {
		t.Errorf("key file = %d bytes, want 64 hex digits and a newline", len(b))
	}
	if !bytes.Equal(mustHex(t, string(b[:64])), m.key[:]) {
		t.Error("key file does not hold the returned key")
	}
	again, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatalf("second LoadOrCreateMasterKey: %v", err)
	}
	if again.ID() != m.ID() || again.key != m.key {
		t.Error("reloading the key file gave another key")
	}
	if len(m.ID()) != 16 {
		t.Errorf("ID() = %q, want 16 hex digits", m.ID())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (no temporary left)", len(entries))
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadOrCreateMasterKeyConcurrentAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := LoadOrCreateMasterKey(path)
			if err != nil {
				t.Errorf("LoadOrCreateMasterKey: %v", err)
				return
			}
			ids[i] = m.ID()
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("concurrent creators disagree: %q vs %q", ids[i], ids[0])
		}
	}
}

func TestLoadMasterKeyEncodings(t *testing.T) {
	raw := bytes.Repeat([]byte{0xA5}, 32)
	raw[0] = 0x01
	want, err := NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte
		wantErr error
	}{
		{"raw 32 bytes", raw, nil},
		{"hex", []byte(hex.EncodeToString(raw)), nil},
		{"hex with newline", []byte(hex.EncodeToString(raw) + "\n"), nil},
		{"upper hex, spaces", []byte("  " + strings.ToUpper(hex.EncodeToString(raw)) + " \r\n"), nil},
		{"base64", []byte(base64.StdEncoding.EncodeToString(raw) + "\n"), nil},
		{"empty", nil, ErrMasterKeyFormat},
		{"short raw", raw[:31], ErrMasterKeyFormat},
		{"33 raw bytes", append(bytes.Clone(raw), 0), ErrMasterKeyFormat},
		{"bad hex", []byte(strings.Repeat("zz", 32)), ErrMasterKeyFormat},
		{"short hex", []byte(hex.EncodeToString(raw[:16])), ErrMasterKeyFormat},
		{"bad base64", []byte(strings.Repeat("!", 44)), ErrMasterKeyFormat},
		{"all zero", make([]byte, 32), ErrMasterKeyFormat},
		{"huge", bytes.Repeat([]byte("a"), 10000), ErrMasterKeyFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := LoadOrCreateMasterKey(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got, tt.content) {
					t.Error("a malformed key file was overwritten")
				}
				return
			}
			if m.ID() != want.ID() {
				t.Errorf("ID = %s, want %s", m.ID(), want.ID())
			}
		})
	}
}

func TestLoadMasterKeyPermissions(t *testing.T) {
	tests := []struct {
		mode    os.FileMode
		wantErr bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o604, true},
		{0o644, true},
		{0o660, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%#o", tt.mode), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			m, err := LoadOrCreateMasterKey(path)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var pe *PermissionError
			if !errors.As(err, &pe) || !errors.Is(err, ErrKeyFilePermissions) {
				t.Fatalf("err = %v, want *PermissionError wrapping ErrKeyFilePermissions", err)
			}
			if pe.Path != path || pe.Mode.Perm() != tt.mode {
				t.Errorf("PermissionError = %+v", pe)
			}
			if m == nil {
				t.Fatal("the key must come back with the PermissionError so a lenient caller can go on")
			}
			if strings.Contains(err.Error(), "abab") {
				t.Error("error text contains key bytes")
			}
		})
	}
}

func TestLoadMasterKeyNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateMasterKey(dir); !errors.Is(err, ErrMasterKeyFormat) {
		t.Errorf("loading a directory: err = %v, want ErrMasterKeyFormat", err)
	}
}

// TestMasterKeyNeverPrints checks every way a key could reach a log line.
func TestMasterKeyNeverPrints(t *testing.T) {
	m, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		hex.EncodeToString(m.key[:]),
		strings.ToUpper(hex.EncodeToString(m.key[:])),
		base64.StdEncoding.EncodeToString(m.key[:]),
		string(m.key[:]),
		fmt.Sprint(m.key[0], " ", m.key[1], " ", m.key[2]), // %v of a byte array
	}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("master", "key", m, "deref", *m)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("master", "key", m)
	jsonBytes, err := json.Marshal(struct{ K *MasterKey }{m})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"log":  logBuf.String(),
		"json": string(jsonBytes),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %p"} {
		outputs[verb] = fmt.Sprintf(verb, m)
		if verb != "%T %p" {
			outputs[verb+" deref"] = fmt.Sprintf(verb, *m)
			outputs[verb+" nested"] = fmt.Sprintf(verb, struct{ M MasterKey }{*m})
		}
	}
	outputs["String"] = m.String()
	outputs["GoString"] = m.GoString()
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output %q contains key material", name, out)
			}
		}
	}
	if !strings.Contains(outputs["%v"], m.ID()) || !strings.Contains(outputs["%v"], "REDACTED") {
		t.Errorf("%%v = %q, want the id and REDACTED", outputs["%v"])
	}
	if !strings.Contains(logBuf.String(), m.ID()) {
		t.Errorf("log %q does not name the key id", logBuf.String())
	}
}

func TestMasterKeyIDDiffers(t *testing.T) {
	a, _ := GenerateMasterKey()
	b, _ := GenerateMasterKey()
	if a.ID() == b.ID() {
		t.Error("two random keys share an id")
	}
	if diff := cmp.Diff(len(a.ID()), 16); diff != "" {
		t.Error(diff)
	}
}

func FuzzParseMasterKey(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32)))
	f.Add([]byte(strings.Repeat("ab", 32) + "\n"))
	f.Add([]byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))))
	f.Add(bytes.Repeat([]byte{1}, 32))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		raw, err := parseMasterKey(b)
		if err != nil {
			if !errors.Is(err, ErrMasterKeyFormat) {
				t.Fatalf("error %v does not wrap ErrMasterKeyFormat", err)
			}
			return
		}
		if len(raw) != MasterKeySize {
			t.Fatalf("parsed %d bytes", len(raw))
		}
	})
}
