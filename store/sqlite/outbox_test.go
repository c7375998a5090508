package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/upstate-dev/upstate/store/sqlite"
)

// TestMigrationMissingFromTheRecordIsApplied: migrations are numbered by the work that adds them
// and may land out of order (0005 before 0004). A migration the record of applied ones lacks is
// applied even though the schema version is already past its number.
func TestMigrationMissingFromTheRecordIsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstate.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// As a build without 0005 would have left it, at a version past 5 by another migration.
	for _, q := range []string{`DELETE FROM schema_migrations WHERE n = 5`, `DROP TABLE journal`, `DROP TABLE journal_cursors`,
		`DROP TABLE notifications`, `DROP TABLE leases`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadJournal(t.Context(), 0, 1); err != nil {
		t.Errorf("the journal after reopening: %v (migration 5 not applied again)", err)
	}
	if _, err := s.OutboxStats(t.Context()); err != nil {
		t.Errorf("the outbox after reopening: %v", err)
	}
}
