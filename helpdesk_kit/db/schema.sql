-- The helpdesk's system of record (the seed's Turso database).
-- Timestamps are ISO 8601 UTC text; they sort correctly as text.
-- Every statement is idempotent so the schema can be applied on every start.

CREATE TABLE IF NOT EXISTS users (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'agent', 'admin')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS tickets (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',
    status        TEXT    NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'in_progress', 'waiting', 'closed')),
    priority      TEXT    NOT NULL DEFAULT 'medium'
                  CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    requester_id  INTEGER NOT NULL REFERENCES users(id),
    owner_id      INTEGER REFERENCES users(id),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,   -- last activity: edits and new comments bump it
    version       INTEGER NOT NULL DEFAULT 1
);
-- list_tickets filters by status/priority/owner and sorts by updated_at;
-- close_inactive_tickets scans (status, updated_at).
CREATE INDEX IF NOT EXISTS tickets_status_updated ON tickets (status, updated_at);
CREATE INDEX IF NOT EXISTS tickets_updated ON tickets (updated_at);
CREATE INDEX IF NOT EXISTS tickets_owner_updated ON tickets (owner_id, updated_at);
CREATE INDEX IF NOT EXISTS tickets_priority_updated ON tickets (priority, updated_at);

CREATE TABLE IF NOT EXISTS interactions (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    author_id   INTEGER NOT NULL REFERENCES users(id),
    body        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS interactions_ticket ON interactions (ticket_id, created_at);
CREATE INDEX IF NOT EXISTS interactions_created ON interactions (created_at);

-- archive_old_interactions moves rows here; same ids, so a retried batch cannot duplicate.
CREATE TABLE IF NOT EXISTS interactions_archive (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL,
    author_id   INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    archived_at TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS notifications (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    task_id     TEXT    UNIQUE      -- a task processed twice records one notification
);
CREATE INDEX IF NOT EXISTS notifications_user ON notifications (user_id, created_at);
