package configs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/locale"
)

// The page's language, embedding and brand: server.language, server.frame_ancestors and
// server.brand (docs/page.md).

// Brand is the operator's look of the page: colours, logos, favicon, a stylesheet and a footer,
// all applied without JavaScript (a stylesheet the server writes, <picture> for the dark logo).
// Unset, the page looks as it always has.
type Brand struct {
	// Logo and LogoDark are image files (SVG, PNG, JPEG, WebP or GIF, at most 1 MiB),
	// relative to the config file; LogoDark shows when the reader's system is in dark mode.
	// They replace server.logo_url.
	Logo     string `yaml:"logo"`
	LogoDark string `yaml:"logo_dark"`
	// Favicon is an SVG, PNG or ICO file.
	Favicon string `yaml:"favicon"`
	// CSS is a stylesheet appended after the page's own (at most 256 KiB). The page's policy
	// lets it load nothing from other hosts: images and fonts it names must be served here.
	CSS string `yaml:"css"`
	// Footer is a line of Markdown (links, emphasis) shown at the foot of every page.
	Footer string `yaml:"footer"`
	// Colors apply in the light scheme, DarkColors in the dark one (each key unset keeps the
	// page's own colour).
	Colors     BrandColors `yaml:"colors"`
	DarkColors BrandColors `yaml:"dark_colors"`
}

// BrandColors are the colours an operator may set, each as #rgb, #rrggbb or #rrggbbaa.
type BrandColors struct {
	Accent           string `yaml:"accent"` // links and the focus ring
	HeaderBackground string `yaml:"header_background"`
	HeaderText       string `yaml:"header_text"`
	Background       string `yaml:"background"`
	Text             string `yaml:"text"`
	Operational      string `yaml:"operational"`
	Degraded         string `yaml:"degraded"`
	Partial          string `yaml:"partial"`
	Major            string `yaml:"major"`
	Maintenance      string `yaml:"maintenance"`
}

// BrandFile is one of the brand's files, read at load time.
type BrandFile struct {
	Name        string // the file's base name
	ContentType string
	Data        []byte
}

// BrandFiles are the brand's files as loaded (nil fields: not set).
type BrandFiles struct {
	Logo, LogoDark, Favicon, CSS *BrandFile
}

// Limits on the brand's files.
const (
	MaxBrandImageBytes = 1 << 20
	MaxBrandCSSBytes   = 256 << 10
	MaxFooterLength    = 2000
)

var (
	hexColor   = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)
	hostSource = regexp.MustCompile(`^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
	imageTypes = map[string]string{".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
		".webp": "image/webp", ".gif": "image/gif"}
	iconTypes = map[string]string{".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
	cssTypes  = map[string]string{".css": "text/css; charset=utf-8"}
)

func (c *Config) pageDefaults() {
	if c.Server.Language == "" {
		c.Server.Language = locale.Reference
	}
}

func (c *Config) validatePage(d *decoder) {
	s := &c.Server
	if cat, err := locale.Load(assets.FS(), s.Language); err != nil {
		have := ""
		if en, err := locale.Load(assets.FS(), ""); err == nil {
			have = " (have " + strings.Join(en.Tags(), ", ") + ")"
		}
		d.at("server.language", "no messages for %q%s: add assets/i18n/<tag>.yaml to add a language", s.Language, have)
	} else {
		s.Language = cat.Default().Tag() // zh-CN is zh-Hans
	}
	for i, src := range s.FrameAncestors {
		if !frameSource(src) {
			d.at(fmt.Sprintf("server.frame_ancestors[%d]", i), "invalid source %q: want 'self', * or an origin such as https://app.example.com (a host may start with *.)", src)
		}
	}
	b := &s.Brand
	c.brand = BrandFiles{
		Logo:     c.brandFile(d, "server.brand.logo", b.Logo, imageTypes, MaxBrandImageBytes),
		LogoDark: c.brandFile(d, "server.brand.logo_dark", b.LogoDark, imageTypes, MaxBrandImageBytes),
		Favicon:  c.brandFile(d, "server.brand.favicon", b.Favicon, iconTypes, MaxBrandImageBytes),
		CSS:      c.brandFile(d, "server.brand.css", b.CSS, cssTypes, MaxBrandCSSBytes),
	}
	if b.LogoDark != "" && b.Logo == "" {
		d.at("server.brand.logo_dark", "needs server.brand.logo (the logo in the light scheme)")
	}
	if len(b.Footer) > MaxFooterLength {
		d.at("server.brand.footer", "must be at most %d bytes", MaxFooterLength)
	} else {
		checkText(d, "server.brand.footer", b.Footer, component.MultiLine)
	}
	for _, cs := range []struct {
		path   string
		colors *BrandColors
	}{{"server.brand.colors", &b.Colors}, {"server.brand.dark_colors", &b.DarkColors}} {
		for _, f := range cs.colors.fields() {
			if *f.value != "" && !hexColor.MatchString(*f.value) {
				d.at(cs.path+"."+f.name, "invalid colour %q: want #rgb, #rrggbb or #rrggbbaa, such as #0a7d4f", *f.value)
			}
		}
	}
	c.validateVisibility(d)
}

// validateVisibility checks groups[].visibility and components[].visibility.
func (c *Config) validateVisibility(d *decoder) {
	for i, g := range c.Groups {
		if _, err := component.ParseVisibility(g.Visibility); err != nil {
			d.at(fmt.Sprintf("groups[%d].visibility", i), "%v", err)
		}
	}
	for i, cm := range c.Components {
		if _, err := component.ParseVisibility(cm.Visibility); err != nil {
			d.at(fmt.Sprintf("components[%d].visibility", i), "%v", err)
		}
	}
}

// visibility is the declared visibility (already validated).
func visibility(s string) component.Visibility {
	v, _ := component.ParseVisibility(s)
	return v
}

// frameSource reports whether src is a CSP source expression the page may be framed from:
// 'self', *, or scheme://host[:port] with an optional leading *. on the host, and no path.
func frameSource(src string) bool {
	if src == "'self'" || src == "*" {
		return true
	}
	scheme, rest, ok := strings.Cut(src, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return false
	}
	host, port, hasPort := strings.Cut(rest, ":")
	if hasPort {
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	return hostSource.MatchString(host) && len(host) <= 253
}

// brandFile reads one of the brand's files, relative to the config file.
func (c *Config) brandFile(d *decoder, path, name string, types map[string]string, limit int64) *BrandFile {
	if name == "" {
		return nil
	}
	ctype, ok := types[strings.ToLower(filepath.Ext(name))]
	if !ok {
		d.at(path, "%q is not one of the kinds of file allowed here (%s)", name, strings.Join(slices.Sorted(maps.Keys(types)), ", "))
		return nil
	}
	full := name
	if !filepath.IsAbs(full) {
		full = filepath.Join(c.Dir, full)
	}
	f, err := os.Open(full)
	if err != nil {
		d.at(path, "cannot read %s: %v", name, unwrapPath(err))
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	switch {
	case err != nil:
		d.at(path, "cannot read %s: %v", name, unwrapPath(err))
		return nil
	case int64(len(data)) > limit:
		d.at(path, "%s is larger than %d bytes", name, limit)
		return nil
	}
	return &BrandFile{Name: filepath.Base(name), ContentType: ctype, Data: data}
}

// BrandFiles returns the brand's files as read at load time.
func (c *Config) BrandFiles() BrandFiles { return c.brand }

type colorField struct {
	name  string
	value *string
}

func (b *BrandColors) fields() []colorField {
	return []colorField{{"accent", &b.Accent}, {"header_background", &b.HeaderBackground}, {"header_text", &b.HeaderText},
		{"background", &b.Background}, {"text", &b.Text}, {"operational", &b.Operational}, {"degraded", &b.Degraded},
		{"partial", &b.Partial}, {"major", &b.Major}, {"maintenance", &b.Maintenance}}
}

// Empty reports whether no colour is set.
func (b BrandColors) Empty() bool { return b == BrandColors{} }

func unwrapPath(err error) error {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
