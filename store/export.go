package store

import (
	"context"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
)

// ExportVersion is the version of the export format (docs/export.md). Version 2 added the
// notifications' records (target, journal, journal_cursor, notification); version 1 files read as before.
const ExportVersion = 2

// Record is one line of an export: exactly one of its fields is set, named by Type.
type Record struct {
	Type       string               `json:"type"`
	Header     *ExportHeader        `json:"header,omitempty"`
	Component  *component.Component `json:"component,omitempty"`
	Status     *component.Change    `json:"status,omitempty"`
	Transition *probe.Transition    `json:"transition,omitempty"`
	Rollup     *probe.Rollup        `json:"rollup,omitempty"`
	Key        *KeyRecord           `json:"key,omitempty"`
	Audit      *AuditEntry          `json:"audit,omitempty"`
	Window     *maintenance.Window  `json:"window,omitempty"`
	Incident   *incidents.Incident  `json:"incident,omitempty"`
	Cursor     *CursorRecord        `json:"cursor,omitempty"`
	Subscriber *Subscriber          `json:"subscriber,omitempty"`
	Target     *NotifyTarget        `json:"target,omitempty"`
	// The notifications' delivery records (docs/export.md): the journal of events with each
	// reader's place in it, and the outbox with each notification's delivery state.
	Journal       *JournalEntry        `json:"journal,omitempty"`
	JournalCursor *JournalCursorRecord `json:"journal_cursor,omitempty"`
	Notification  *Notification        `json:"notification,omitempty"`
}

// The record types, in the order an export writes them.
const (
	RecordHeader        = "header"
	RecordComponent     = "component"
	RecordStatus        = "status"
	RecordTransition    = "transition"
	RecordRollup        = "rollup"
	RecordKey           = "key"
	RecordAudit         = "audit"
	RecordWindow        = "window"
	RecordIncident      = "incident"
	RecordCursor        = "cursor"
	RecordSubscriber    = "subscriber"
	RecordTarget        = "target"
	RecordJournal       = "journal"
	RecordJournalCursor = "journal_cursor"
	RecordNotification  = "notification"
)

// ExportHeader is an export's first line.
type ExportHeader struct {
	Format     string    `json:"format"` // "upstate-export"
	Version    int       `json:"version"`
	ExportedAt time.Time `json:"exported_at"`
	Source     string    `json:"source"` // the backend it came from
}

// KeyRecord is an API key with its bcrypt hash, so keys keep working after an import.
type KeyRecord struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Scopes    []apikey.Scope `json:"scopes"`
	Hash      string         `json:"hash"` // bcrypt
	CreatedAt time.Time      `json:"created_at"`
	RevokedAt time.Time      `json:"revoked_at,omitzero"`
}

// ToKey converts the record back.
func (k KeyRecord) ToKey() apikey.Key {
	return apikey.Key{ID: k.ID, Name: k.Name, Scopes: k.Scopes, Hash: []byte(k.Hash), CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// KeyToRecord converts a key for export.
func KeyToRecord(k apikey.Key) KeyRecord {
	return KeyRecord{ID: k.ID, Name: k.Name, Scopes: k.Scopes, Hash: string(k.Hash), CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// CursorRecord is a job cursor.
type CursorRecord struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// JournalCursorRecord is how far one reader of the journal has got.
type JournalCursorRecord struct {
	Name string `json:"name"`
	Seq  int64  `json:"seq"`
}

// Dump moves all data in and out, between backends too: the data is the customer's.
type Dump interface {
	// Export calls emit for every stored record (not the header), types in the order above and
	// each type in a stable order.
	Export(ctx context.Context, emit func(Record) error) error
	// Import writes records into an empty store (ErrConflict if it is not empty). Callers
	// validate every record first; components' status fields are ignored (the timeline holds
	// them), audit entries keep their ids.
	Import(ctx context.Context, records []Record) error
}
