package statuspage

import "github.com/upstate-dev/upstate/component"

// cleanText is text as every public rendering may carry it: without the control characters and
// noncharacters the API refuses (component.CleanText), which text stored before that rule may
// still hold. XML 1.0 forbids them even as character references, so one would make a whole feed
// or badge unreadable; HTML calls them parse errors. Pages are cleaned whole (render), feeds and
// badges field by field; JSON needs nothing, as encoding/json escapes them.
func cleanText(s string) string { return component.CleanText(s, component.MultiLine) }
