-- The home became entities: the demo rooms are no longer topics, and one topic (`entities`) carries several
-- event names. Events of the old room topics cannot be replayed as entities, so the log is cleared once here:
-- a client resuming from an older id gets a `reset` with the whole state, which the state row keeps (its rooms
-- are turned into the demo entities when it is read). The per-device table goes: the state holds the entities.
--
-- From here on `topic` holds each event's name (most topics have one event of their own name), and
-- `window_key` names the run of readings an event belongs to when the log keeps only the newest of them (the
-- living room's temperature, each numeric sensor): such events do not count toward the log's retention.
DELETE FROM events;
DROP TABLE devices;
DROP INDEX events_topic_seq;
ALTER TABLE events ADD COLUMN window_key TEXT;
CREATE INDEX events_window_seq ON events (window_key, seq) WHERE window_key IS NOT NULL;
