-- Upstate schema, version 5: notifications (the journal of events, the outbox, leases).
-- Numbered 5: 0004 belongs to the page aggregates; the migrator records each number applied.
CREATE TABLE journal (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT, -- commit order: writers are serialised
    id   TEXT NOT NULL UNIQUE,              -- the event's id
    kind TEXT NOT NULL,
    at   INTEGER NOT NULL,                  -- Unix ms
    body TEXT NOT NULL                      -- the event as JSON
);
CREATE TABLE journal_cursors (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);
CREATE TABLE notifications (
    id          TEXT PRIMARY KEY,           -- the idempotency key
    state       TEXT NOT NULL,
    next_at     INTEGER NOT NULL,           -- Unix ms
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    target      TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    doc         TEXT NOT NULL               -- the notification as JSON
);
CREATE INDEX notifications_due ON notifications (state, next_at);
CREATE INDEX notifications_by_created ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_finished ON notifications (state, updated_at);
CREATE INDEX notifications_by_dedup ON notifications (dedup_key) WHERE dedup_key != '';
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    token   INTEGER NOT NULL,
    expires INTEGER NOT NULL                -- Unix ms
);
