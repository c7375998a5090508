// Package assets embeds the status page's templates and static files. It holds no logic:
// statuspage.New takes an fs.FS, so --dev-assets can serve these files from disk instead.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed templates static
var files embed.FS

// FS returns the embedded files: templates/*.html and static/*.
func FS() fs.FS { return files }
