-- Hearth's embedded store. The event log backs replay; the state row is the snapshot as of its seq, so a
-- restart restores the dashboard without replaying history; messages, jobs and devices are the durable records.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    topic   TEXT    NOT NULL,
    data    TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL
);
CREATE INDEX events_at ON events (at_ms);

CREATE TABLE state (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    seq      INTEGER NOT NULL,
    snapshot TEXT    NOT NULL
);

CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    seq       INTEGER NOT NULL,
    title     TEXT    NOT NULL,
    message   TEXT    NOT NULL,
    timestamp TEXT    NOT NULL
);

CREATE TABLE jobs (
    id       TEXT    PRIMARY KEY,
    seq      INTEGER NOT NULL,
    progress INTEGER NOT NULL,
    done     INTEGER NOT NULL
);

CREATE TABLE devices (
    room       TEXT    NOT NULL,
    device     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (room, device)
);
