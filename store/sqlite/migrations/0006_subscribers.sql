-- Upstate schema, version 6: subscribers (docs/subscribers.md).
CREATE TABLE subscribers (
    id             TEXT PRIMARY KEY,
    lookup         TEXT NOT NULL UNIQUE,   -- store.SubscriberLookup: one subscription per address or URL
    state          TEXT NOT NULL,
    channel        TEXT NOT NULL,
    all_components INTEGER NOT NULL,       -- 1: follows every component (no rows below)
    version        INTEGER NOT NULL,
    doc            TEXT NOT NULL           -- the subscriber as JSON
);
CREATE INDEX subscribers_by_state ON subscribers (state, id);
CREATE TABLE subscriber_components (
    component_id  TEXT NOT NULL,           -- a component or group id
    subscriber_id TEXT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    PRIMARY KEY (component_id, subscriber_id)
);
CREATE INDEX subscriber_components_by_subscriber ON subscriber_components (subscriber_id);
