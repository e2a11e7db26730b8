-- ferrotune store, schema version 5: experiment names are unique within their namespace,
-- not across namespaces, so that tenants choose names freely and a taken name tells
-- nobody what another namespace holds.
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt the way SQLite
-- documents (https://sqlite.org/lang_altertable.html#otheralter); the store runs its
-- migrations with foreign-key enforcement off and checks every key before committing, so
-- dropping the old table does not cascade into the trials.
CREATE TABLE experiments_new (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    namespace      TEXT    NOT NULL,
    document       TEXT    NOT NULL,
    source_path    TEXT    NOT NULL,
    run_dir        TEXT    NOT NULL,
    seed           INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    reason         TEXT    NOT NULL DEFAULT '',
    message        TEXT    NOT NULL DEFAULT '',
    created_at     TEXT    NOT NULL,
    started_at     TEXT,
    completed_at   TEXT,
    owner_pid      INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    next_seq       INTEGER NOT NULL DEFAULT 1,
    UNIQUE (namespace, name)
);

INSERT INTO experiments_new
    (id, name, namespace, document, source_path, run_dir, seed, status, reason, message,
     created_at, started_at, completed_at, owner_pid, stop_requested, next_seq)
SELECT id, name, namespace, document, source_path, run_dir, seed, status, reason, message,
       created_at, started_at, completed_at, owner_pid, stop_requested, next_seq
FROM experiments;

DROP TABLE experiments;
ALTER TABLE experiments_new RENAME TO experiments;

CREATE INDEX experiments_by_name ON experiments (name);
