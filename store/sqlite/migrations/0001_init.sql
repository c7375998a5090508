-- Upstate schema, version 1. Times are Unix milliseconds in UTC.
CREATE TABLE components (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    group_id    TEXT NOT NULL DEFAULT '',
    is_group    INTEGER NOT NULL DEFAULT 0,
    position    INTEGER NOT NULL DEFAULT 0,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Status timelines outlive their components: history is never rewritten.
CREATE TABLE status_changes (
    component_id TEXT NOT NULL,
    at           INTEGER NOT NULL,
    status       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (component_id, at, status, reason)
) WITHOUT ROWID;

CREATE TABLE transitions (
    monitor_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    PRIMARY KEY (monitor_id, at, from_state, to_state, reason)
) WITHOUT ROWID;

CREATE TABLE rollups (
    monitor_id     TEXT NOT NULL,
    resolution     TEXT NOT NULL,
    start          INTEGER NOT NULL,
    runs           INTEGER NOT NULL,
    failures       INTEGER NOT NULL,
    latency_sum_ns INTEGER NOT NULL,
    histogram      TEXT NOT NULL, -- JSON array of probe.HistogramBuckets counts
    PRIMARY KEY (monitor_id, resolution, start)
) WITHOUT ROWID;
CREATE INDEX rollups_by_start ON rollups (resolution, start);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL, -- comma-separated
    hash       BLOB NOT NULL, -- bcrypt
    created_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json  TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    request_id  TEXT NOT NULL
);
CREATE INDEX audit_by_target ON audit (target, id);
