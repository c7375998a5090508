-- Upstate schema, version 4: reads whose cost follows what the page shows (issue #14).

-- Each incident's head (the incident with only its latest updates) and span (when it ran, what it
-- affected), with what lists of incidents filter on, in a table of their own: a column after an
-- incident's document would be reached only through the document's overflow pages, a thousand
-- updates' worth of them. ended_at is when it was resolved, or 9223372036854775807 while open.
-- Incidents stored before this version are indexed here from their documents; their head and
-- span are made from the document when read ('').
CREATE TABLE incident_heads (
    id         TEXT PRIMARY KEY,
    opened_at  INTEGER NOT NULL, -- Unix ms
    open       INTEGER NOT NULL, -- 1 while not resolved
    started_at INTEGER NOT NULL,
    ended_at   INTEGER NOT NULL,
    span       TEXT NOT NULL,    -- store.IncidentSpan as JSON
    head       TEXT NOT NULL     -- store.IncidentHead as JSON
);
CREATE INDEX incident_heads_by_opened ON incident_heads (opened_at DESC, id DESC);
CREATE INDEX incident_heads_open ON incident_heads (open, opened_at DESC, id DESC);
CREATE INDEX incident_heads_by_started ON incident_heads (started_at);
CREATE INDEX incident_heads_by_end ON incident_heads (ended_at);
INSERT INTO incident_heads (id, opened_at, open, started_at, ended_at, span, head)
    SELECT id, opened_at, open,
        CAST(round(unixepoch(json_extract(doc, '$.started_at'), 'subsec') * 1000) AS INTEGER),
        CASE WHEN open = 0 AND json_extract(doc, '$.resolved_at') IS NOT NULL
            THEN CAST(round(unixepoch(json_extract(doc, '$.resolved_at'), 'subsec') * 1000) AS INTEGER)
            ELSE 9223372036854775807 END,
        '', ''
    FROM incidents;

CREATE TABLE incident_components (
    component_id TEXT NOT NULL,
    opened_at    INTEGER NOT NULL, -- the incident's, Unix ms
    incident_id  TEXT NOT NULL,
    PRIMARY KEY (component_id, opened_at, incident_id)
) WITHOUT ROWID;
CREATE INDEX incident_components_by_incident ON incident_components (incident_id);
INSERT OR IGNORE INTO incident_components (component_id, opened_at, incident_id)
    SELECT json_extract(c.value, '$.component_id'), i.opened_at, i.id FROM incidents i, json_each(i.doc, '$.components') c;

-- Daily status aggregates in one zone (status_days_zone; none until the server keeps one): a
-- row for each day of a component's timeline that holds a change, with the time spent in each
-- status over the whole day (the status after the day's last change lasting to its end), in
-- milliseconds. A day without a row is wholly in the status the row before it ended in.
CREATE TABLE status_days (
    day          INTEGER NOT NULL, -- the date in the zone, as days since 1970-01-01
    component_id TEXT NOT NULL,
    end_status   TEXT NOT NULL,    -- after the day's last change
    last_at      INTEGER NOT NULL, -- the day's last change, Unix ms
    up_ms        INTEGER NOT NULL, -- operational, under maintenance
    degraded_ms  INTEGER NOT NULL,
    partial_ms   INTEGER NOT NULL,
    major_ms     INTEGER NOT NULL,
    unknown_ms   INTEGER NOT NULL, -- unknown, or no data yet
    PRIMARY KEY (day, component_id)
) WITHOUT ROWID;
CREATE INDEX status_days_by_component ON status_days (component_id, day);
CREATE TABLE status_days_zone (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    zone TEXT NOT NULL -- an IANA zone name
);
