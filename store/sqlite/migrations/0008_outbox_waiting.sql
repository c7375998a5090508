-- Upstate schema, version 8: the outbox's claim walks an index in its own order (issue #16).
-- The claim takes the rows waiting (pending, or claimed and run out) by due time then id. On
-- (state, next_at) the two states were two ranges that SQLite merged by sorting every due row
-- (USE TEMP B-TREE FOR ORDER BY): with 100,000 subscribers' rows waiting, each claim of 256
-- sorted them all. This index holds only waiting rows, in claim order: a claim reads what it
-- takes. The queries name it (INDEXED BY): without statistics the planner preferred the old one.
CREATE INDEX notifications_waiting ON notifications (next_at, id) WHERE state IN ('pending', 'sending');
DROP INDEX notifications_due;
