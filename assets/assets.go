// Package assets embeds the status page's templates and static files. It holds no logic:
// statuspage.New takes an fs.FS, so --dev-assets can serve these files from disk instead.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed templates static i18n
var files embed.FS

// FS returns the embedded files: templates/*.html, static/* and the message files i18n/*.yaml.
func FS() fs.FS { return files }
