package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
)

// ValidateRecords checks an import before anything is written: each record on its own, then
// across records (unique ids, groups that exist). The errors name the record by its line in
// the file (the header is line 1).
func ValidateRecords(records []Record) []error {
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s", i+2, fmt.Sprintf(format, args...)))
	}
	seen := map[string]int{}
	unique := func(i int, kind, id string) {
		if prev, dup := seen[kind+"/"+id]; dup {
			bad(i, "%s %q appears twice (also line %d)", kind, id, prev+2)
		}
		seen[kind+"/"+id] = i
	}
	groups := map[string]bool{}
	for _, r := range records {
		if r.Type == RecordComponent && r.Component != nil && r.Component.IsGroup {
			groups[r.Component.ID] = true
		}
	}
	for i, r := range records {
		if n := r.payloads(); n != 1 || r.payloadType() != r.Type {
			bad(i, "a %q record must carry exactly its own field", r.Type)
			continue
		}
		switch r.Type {
		case RecordComponent:
			c := r.Component
			for _, fe := range c.Validate() {
				bad(i, "component %s: %v", c.ID, fe)
			}
			if c.GroupID != "" && !groups[c.GroupID] {
				bad(i, "component %s: group %q is not in the import", c.ID, c.GroupID)
			}
			if c.Source != component.SourceConfig && c.Source != component.SourceAPI {
				bad(i, "component %s: unknown source %q", c.ID, c.Source)
			}
			unique(i, "component", c.ID)
		case RecordStatus:
			ch := r.Status
			if !component.ValidID(ch.ComponentID) || ch.At.IsZero() || !ch.Status.Valid() {
				bad(i, "status change needs a component id, a time and a known status")
			}
		case RecordTransition:
			t := r.Transition
			if !component.ValidID(t.MonitorID) || t.At.IsZero() || !t.From.Valid() || !t.To.Valid() {
				bad(i, "transition needs a monitor id, a time and known states")
			}
		case RecordRollup:
			ru := r.Rollup
			var sum uint64
			for _, n := range ru.Histogram {
				sum += n
			}
			if !component.ValidID(ru.MonitorID) || !ru.Resolution.Valid() || ru.Start.IsZero() || ru.Failures < 0 || ru.Failures > ru.Runs || sum != uint64(ru.Runs) ||
				!ru.Start.Equal(ru.Resolution.Truncate(ru.Start)) {
				bad(i, "rollup of %s: inconsistent (resolution, aligned start, runs >= failures >= 0, histogram summing to runs)", ru.MonitorID)
			}
		case RecordKey:
			k := r.Key
			if len(k.ID) != 16 || k.Name == "" || len(k.Scopes) == 0 || !strings.HasPrefix(k.Hash, "$2") || k.CreatedAt.IsZero() {
				bad(i, "key %q: needs a 16-character id, a name, scopes, a bcrypt hash and a creation time", k.ID)
			}
			for _, sc := range k.Scopes {
				if !sc.Valid() {
					bad(i, "key %q: unknown scope %q", k.ID, sc)
				}
			}
			unique(i, "key", k.ID)
		case RecordAudit:
			a := r.Audit
			if a.ID <= 0 || a.At.IsZero() || a.Action == "" {
				bad(i, "audit entry needs a positive id, a time and an action")
			}
			for _, raw := range []json.RawMessage{a.Before, a.After} {
				if len(raw) > 0 && !json.Valid(raw) {
					bad(i, "audit entry %d: before/after is not JSON", a.ID)
				}
			}
			unique(i, "audit entry", fmt.Sprint(a.ID))
		case RecordWindow:
			w := *r.Window
			for _, fe := range w.Prepare() {
				bad(i, "maintenance window %s: %v", w.ID, fe)
			}
			unique(i, "window", w.ID)
		case RecordIncident:
			inc := r.Incident
			if !component.ValidID(inc.ID) || !inc.Severity.Valid() || !inc.Status.Valid() || inc.Version < 1 || inc.OpenedAt.IsZero() || len(inc.Updates) == 0 {
				bad(i, "incident %q: needs an id, a known severity and status, a version, an opening time and its updates", inc.ID)
			}
			if inc.Status == incidents.Resolved && inc.ResolvedAt.IsZero() {
				bad(i, "incident %q: resolved without resolved_at", inc.ID)
			}
			unique(i, "incident", inc.ID)
		case RecordCursor:
			if r.Cursor.Name == "" || r.Cursor.At.IsZero() {
				bad(i, "cursor needs a name and a time")
			}
			unique(i, "cursor", r.Cursor.Name)
		case RecordSubscriber:
			sub := r.Subscriber
			if sub.ID == "" || !sub.Channel.Valid() || !sub.State.Valid() || sub.Address == "" || sub.LinkKey == "" || sub.Version < 1 ||
				sub.CreatedAt.IsZero() || sub.Channel.HasURL() && sub.URL == "" {
				bad(i, "subscriber %q: needs an id, a known channel and state, an address (and a URL for a webhook), a link key, a version and a creation time", sub.ID)
			}
			unique(i, "subscriber", sub.ID)
			unique(i, "subscription", sub.Lookup())
		case RecordTarget:
			t := r.Target
			if !component.ValidID(t.ID) || t.Kind == "" || t.Version < 1 || t.CreatedAt.IsZero() {
				bad(i, "target %q: needs an id, a kind, a version and a creation time", t.ID)
			}
			unique(i, "target", t.ID)
		case RecordJournal:
			e := r.Journal
			if e.Seq < 1 || e.ID == "" || e.Kind == "" || e.At.IsZero() || !json.Valid(e.Body) {
				bad(i, "journal entry %q: needs a positive seq, an id, a kind, a time and a JSON body", e.ID)
			}
			unique(i, "journal entry", e.ID)
			unique(i, "journal seq", fmt.Sprint(e.Seq))
		case RecordJournalCursor:
			if r.JournalCursor.Name == "" || r.JournalCursor.Seq < 0 {
				bad(i, "journal cursor needs a name and a seq of 0 or more")
			}
			unique(i, "journal cursor", r.JournalCursor.Name)
		case RecordNotification:
			n := r.Notification
			if n.ID == "" || n.Target == "" || !n.State.Valid() || n.Version < 1 || n.Attempts < 0 || n.CreatedAt.IsZero() ||
				len(n.Payload) > 0 && !json.Valid(n.Payload) {
				bad(i, "notification %q: needs an id, a target, a known state, a version, attempts, its creation time and a JSON payload", n.ID)
			}
			unique(i, "notification", n.ID)
		default:
			bad(i, "unknown record type %q", r.Type)
		}
	}
	return errs
}

func (r Record) payloads() int {
	n := 0
	for _, set := range []bool{r.Header != nil, r.Component != nil, r.Status != nil, r.Transition != nil, r.Rollup != nil,
		r.Key != nil, r.Audit != nil, r.Window != nil, r.Incident != nil, r.Cursor != nil, r.Subscriber != nil, r.Target != nil, r.Journal != nil, r.JournalCursor != nil, r.Notification != nil} {
		if set {
			n++
		}
	}
	return n
}

func (r Record) payloadType() string {
	switch {
	case r.Component != nil:
		return RecordComponent
	case r.Status != nil:
		return RecordStatus
	case r.Transition != nil:
		return RecordTransition
	case r.Rollup != nil:
		return RecordRollup
	case r.Key != nil:
		return RecordKey
	case r.Audit != nil:
		return RecordAudit
	case r.Window != nil:
		return RecordWindow
	case r.Incident != nil:
		return RecordIncident
	case r.Cursor != nil:
		return RecordCursor
	case r.Subscriber != nil:
		return RecordSubscriber
	case r.Target != nil:
		return RecordTarget
	case r.Journal != nil:
		return RecordJournal
	case r.JournalCursor != nil:
		return RecordJournalCursor
	case r.Notification != nil:
		return RecordNotification
	case r.Header != nil:
		return RecordHeader
	}
	return ""
}
