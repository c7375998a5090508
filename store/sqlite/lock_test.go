package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestOpenExclusiveRefusesASecondServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstate.db")
	first, err := OpenExclusive(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenExclusive(t.Context(), path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenExclusive: %v, want ErrLocked", err)
	}
	for _, want := range []string{"in use by another upstate process", "process " + strconv.Itoa(os.Getpid()), LockPath(path), "storage.backend: redis"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Commands that only read or write short transactions open it meanwhile.
	reader, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open beside the server: %v", err)
	}
	if _, err := reader.ListComponents(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := reader.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenExclusive(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenExclusive after the first closed: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
