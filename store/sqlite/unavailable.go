package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	sqlitedriver "modernc.org/sqlite"

	"github.com/upstate-dev/upstate/store"
)

// SQLite's primary result codes that mean the database cannot serve now, whatever was asked:
// busy or locked past busy_timeout, out of memory, read-only, a disk or file error, a full disk.
var unavailableCodes = map[int]bool{5: true, 6: true, 7: true, 8: true, 10: true, 13: true, 14: true, 15: true}

// unavailable maps a failure to use the database at all to store.ErrUnavailable, keeping the
// original error in the chain; every other error (including nil) is returned as it is. The
// store's transactions (tx), its prepared reads (stmtCache) and its single-row reads call it,
// so every method's failures are mapped in those few places.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	var se *sqlitedriver.Error
	switch {
	case errors.Is(err, errClosed), errors.Is(err, sql.ErrConnDone), dbClosed(err),
		errors.As(err, &se) && unavailableCodes[se.Code()&0xff]:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// dbClosed reports database/sql's error for a closed *sql.DB, which it does not export.
func dbClosed(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "sql: database is closed" {
			return true
		}
	}
	return false
}
