-- Upstate schema, version 9: notification targets made through the admin API (issue #15).
-- Numbered 9: 0008 belongs to the outbox's claim index (issue #16).
CREATE TABLE notify_targets (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    doc     TEXT NOT NULL      -- the target as JSON, secrets as the operator gave them
);
