//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("would block")

// flock is a no-op where flock(2) does not exist: the lock is not enforced there (Upstate ships
// for Linux; docs/storage.md says so).
func flock(*os.File) error { return nil }
