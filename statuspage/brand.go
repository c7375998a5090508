package statuspage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// Brand is the operator's look of the page (server.brand, docs/page.md): files read from the
// config at start, colours, a footer. The zero Brand leaves the page as it is.
type Brand struct {
	Logo, LogoDark, Favicon, CSS *BrandFile
	Footer                       string // Markdown
	Colors, DarkColors           BrandColors
}

// BrandFile is one of the brand's files.
type BrandFile struct {
	Name        string // its base name; its extension names the URL's
	ContentType string
	Data        []byte
}

// BrandColors are the colours an operator may set, each "#rgb", "#rrggbb" or "#rrggbbaa"
// (configs checks them); empty keeps the page's own.
type BrandColors struct {
	Accent, HeaderBackground, HeaderText, Background, Text string
	Operational, Degraded, Partial, Major, Maintenance     string
}

func (b BrandColors) empty() bool { return b == BrandColors{} }

// brandView is what the templates show of the brand: URLs of its files (each with a version
// from its content, so a new file is fetched at once and an old one cached long), the footer.
type brandView struct {
	Logo, LogoDark, Favicon, FaviconType, CSS string
	Footer                                    template.HTML
}

// brandAsset is a file served under /brand/.
type brandAsset struct {
	contentType string
	data        []byte
	version     string
}

// newBrand prepares the brand's files and its stylesheet (the colours, then the operator's
// CSS). Nothing in it runs: a stylesheet and images, served from the page's own origin, so the
// page's Content-Security-Policy stays as strict (style-src 'self', img-src 'self').
func (s *Server) newBrand(b Brand) (*brandView, map[string]brandAsset) {
	assets := map[string]brandAsset{}
	add := func(name string, f *BrandFile) string {
		if f == nil {
			return ""
		}
		name += strings.ToLower(path.Ext(f.Name))
		a := brandAsset{contentType: f.ContentType, data: f.Data, version: contentVersion(f.Data)}
		assets[name] = a
		return "/brand/" + name + "?v=" + a.version
	}
	v := &brandView{}
	v.Logo = add("logo", b.Logo)
	v.LogoDark = add("logo-dark", b.LogoDark)
	if v.Favicon = add("favicon", b.Favicon); v.Favicon != "" {
		v.FaviconType = b.Favicon.ContentType
	}
	var css strings.Builder
	if !b.Colors.empty() {
		css.WriteString("/* server.brand.colors */\n")
		writeColors(&css, b.Colors, "")
	}
	if !b.DarkColors.empty() {
		css.WriteString("/* server.brand.dark_colors */\n@media (prefers-color-scheme: dark) {\n")
		writeColors(&css, b.DarkColors, "  ")
		css.WriteString("}\n")
	}
	if b.CSS != nil {
		css.WriteString("/* server.brand.css: " + strings.ReplaceAll(b.CSS.Name, "*/", "") + " */\n")
		css.Write(b.CSS.Data)
		css.WriteString("\n")
	}
	if css.Len() > 0 {
		v.CSS = add("style", &BrandFile{Name: "style.css", ContentType: "text/css; charset=utf-8", Data: []byte(css.String())})
	}
	if b.Footer != "" {
		v.Footer = s.md.render(b.Footer)
	}
	return v, assets
}

// writeColors writes one scheme's colours: the page's own variables, then the links and the
// header, which have none.
func writeColors(w *strings.Builder, c BrandColors, indent string) {
	var vars []string
	for _, kv := range [][2]string{{"--bg", c.Background}, {"--fg", c.Text}, {"--ok", c.Operational}, {"--degraded", c.Degraded},
		{"--partial", c.Partial}, {"--major", c.Major}, {"--maint", c.Maintenance}} {
		if kv[1] != "" {
			vars = append(vars, kv[0]+": "+kv[1])
		}
	}
	if len(vars) > 0 {
		fmt.Fprintf(w, "%s:root { %s; }\n", indent, strings.Join(vars, "; "))
	}
	if c.Accent != "" {
		fmt.Fprintf(w, "%sa { color: %s; }\n%sa:focus-visible, .skip:focus { outline-color: %s; }\n", indent, c.Accent, indent, c.Accent)
	}
	if c.HeaderBackground != "" {
		fmt.Fprintf(w, "%sheader.site { background: %s; }\n", indent, c.HeaderBackground)
	}
	if c.HeaderText != "" {
		fmt.Fprintf(w, "%sheader.site, header.site a, header.site .brand { color: %s; }\n", indent, c.HeaderText)
	}
}

func contentVersion(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// brandFile serves /brand/{name}: long-cached under its current version (?v=), briefly under
// any other URL, so a changed file shows within minutes even to a reader holding an old link.
func (s *Server) brandFile(c echo.Context) error {
	a, ok := s.brandAssets[c.Param("name")]
	if !ok {
		return newError(http.StatusNotFound, "not_found", "no such file")
	}
	cc := "public, max-age=300"
	if c.QueryParam("v") == a.version {
		cc = "public, max-age=31536000, immutable"
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, cc)
	h.Set("ETag", `"`+a.version+`"`)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && etagMatches(inm, `"`+a.version+`"`) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.contentType, a.data)
}
