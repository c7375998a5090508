-- Upstate schema, version 2: maintenance windows and job cursors.
CREATE TABLE maintenance_windows (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL -- the window as JSON (store.EncodeWindow)
);

CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    at   INTEGER NOT NULL -- Unix ms
);
