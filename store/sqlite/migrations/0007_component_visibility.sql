-- Components and groups may be internal (issue #18): '' is public, 'internal' shows only on the
-- internal page and in the admin API.
ALTER TABLE components ADD COLUMN visibility TEXT NOT NULL DEFAULT '';
