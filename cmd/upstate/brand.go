package main

import (
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/statuspage"
)

// brandOf is the config's server.brand as the page takes it (its files already read).
func brandOf(cfg *configs.Config) statuspage.Brand {
	b, files := cfg.Server.Brand, cfg.BrandFiles()
	file := func(f *configs.BrandFile) *statuspage.BrandFile {
		if f == nil {
			return nil
		}
		return &statuspage.BrandFile{Name: f.Name, ContentType: f.ContentType, Data: f.Data}
	}
	colors := func(c configs.BrandColors) statuspage.BrandColors {
		return statuspage.BrandColors{Accent: c.Accent, HeaderBackground: c.HeaderBackground, HeaderText: c.HeaderText,
			Background: c.Background, Text: c.Text, Operational: c.Operational, Degraded: c.Degraded, Partial: c.Partial,
			Major: c.Major, Maintenance: c.Maintenance}
	}
	return statuspage.Brand{Logo: file(files.Logo), LogoDark: file(files.LogoDark), Favicon: file(files.Favicon), CSS: file(files.CSS),
		Footer: b.Footer, Colors: colors(b.Colors), DarkColors: colors(b.DarkColors)}
}
