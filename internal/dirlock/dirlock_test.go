package dirlock

import (
	"context"
	"errors"
	"os"
	"testing"
)

func TestDirModes(t *testing.T) {
	dir := t.TempDir()
	s1, err := Dir(dir, Shared)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Dir(dir, Shared)
	if err != nil {
		t.Fatalf("second shared holder refused: %v", err)
	}
	if _, err := Dir(dir, Exclusive); !errors.Is(err, ErrBusy) {
		t.Fatalf("exclusive beside shared: %v, want ErrBusy", err)
	}
	s1.Close()
	if _, err := Dir(dir, Exclusive); !errors.Is(err, ErrBusy) {
		t.Fatalf("exclusive beside one remaining shared holder: %v, want ErrBusy", err)
	}
	s2.Close()
	x, err := Dir(dir, Exclusive)
	if err != nil {
		t.Fatalf("exclusive after every holder left: %v", err)
	}
	if _, err := Dir(dir, Shared); !errors.Is(err, ErrBusy) {
		t.Fatalf("shared beside exclusive: %v, want ErrBusy", err)
	}
	x.Close()
	if l, err := Dir(dir, Shared); err != nil {
		t.Fatal(err)
	} else {
		l.Close()
	}
	var nilLock *Lock
	if err := nilLock.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresModes(t *testing.T) {
	url := os.Getenv("ASSENT_POSTGRES_URL")
	if url == "" {
		t.Skip("PostgreSQL advisory locks not tested: set ASSENT_POSTGRES_URL (CI does)")
	}
	ctx := context.Background()
	s1, err := Postgres(ctx, url, Shared)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Postgres(ctx, url, Shared)
	if err != nil {
		t.Fatalf("second API node refused: %v", err)
	}
	if _, err := Postgres(ctx, url, Exclusive); !errors.Is(err, ErrBusy) {
		t.Fatalf("exclusive beside servers: %v, want ErrBusy", err)
	}
	s1.Close()
	s2.Close()
	x, err := Postgres(ctx, url, Exclusive)
	if err != nil {
		t.Fatalf("exclusive after servers stopped: %v", err)
	}
	if _, err := Postgres(ctx, url, Shared); !errors.Is(err, ErrBusy) {
		t.Fatalf("server start beside an offline command: %v, want ErrBusy", err)
	}
	x.Close()
}
