-- Upstate schema, version 3: incidents.
CREATE TABLE incidents (
    id        TEXT PRIMARY KEY,
    opened_at INTEGER NOT NULL, -- Unix ms
    open      INTEGER NOT NULL, -- 1 while not resolved
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL     -- the incident as JSON
);
CREATE INDEX incidents_by_opened ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_open ON incidents (open, opened_at DESC);
