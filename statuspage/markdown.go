package statuspage

import (
	"bytes"
	"errors"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// markdown renders incident text. Nothing a user writes is trusted as HTML: text with raw HTML is
// refused when it is written (so the author learns at once), goldmark omits raw HTML and
// dangerous links when rendering, and bluemonday's UGC policy sanitises the result as well.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

func newMarkdown() *markdown {
	return &markdown{md: goldmark.New(), policy: bluemonday.UGCPolicy()}
}

var errRawHTML = errors.New("raw HTML is not allowed in incident text; write Markdown (**bold**, [links](https://...), lists)")

// check refuses text holding raw HTML (tags, script, event-handler attributes).
func (m *markdown) check(src string) error {
	doc := m.md.Parser().Parse(text.NewReader([]byte(src)))
	var found bool
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && (n.Kind() == ast.KindRawHTML || n.Kind() == ast.KindHTMLBlock) {
			found = true
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	if found {
		return errRawHTML
	}
	return nil
}

// render turns Markdown into sanitised HTML.
func (m *markdown) render(src string) template.HTML {
	var buf bytes.Buffer
	if err := m.md.Convert([]byte(src), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src)) //nolint:gosec // escaped
	}
	return template.HTML(m.policy.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitised by bluemonday
}
