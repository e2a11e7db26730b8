-- ferrotune store, schema version 1.
--
-- Timestamps are RFC 3339 text in UTC with microseconds ("2025-01-02T03:04:05.123456Z"),
-- so they sort lexically. JSON columns hold serde_json text.

CREATE TABLE experiments (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE,
    namespace      TEXT    NOT NULL,
    -- The experiment document (overrides applied), JSON.
    document       TEXT    NOT NULL,
    source_path    TEXT    NOT NULL,
    run_dir        TEXT    NOT NULL,
    -- u64 seed stored bit-cast as i64.
    seed           INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    reason         TEXT    NOT NULL DEFAULT '',
    message        TEXT    NOT NULL DEFAULT '',
    created_at     TEXT    NOT NULL,
    started_at     TEXT,
    completed_at   TEXT,
    owner_pid      INTEGER,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    -- The next trial sequence number to hand out; only ever grows.
    next_seq       INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE trials (
    id              INTEGER PRIMARY KEY,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    -- JSON of ferrotune_core::Assignment.
    parameters      TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    reason          TEXT    NOT NULL DEFAULT '',
    message         TEXT    NOT NULL DEFAULT '',
    attempt         INTEGER NOT NULL DEFAULT 0,
    objective       REAL,
    -- JSON array of MetricSummary (non-finite numbers as "NaN", "inf", "-inf").
    metrics         TEXT    NOT NULL DEFAULT '[]',
    created_at      TEXT    NOT NULL,
    start_time      TEXT,
    completion_time TEXT,
    pgid            INTEGER,
    UNIQUE (experiment_id, name),
    UNIQUE (experiment_id, seq)
);

CREATE TABLE observations (
    id        INTEGER PRIMARY KEY,
    trial_id  INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    attempt   INTEGER NOT NULL,
    metric    TEXT    NOT NULL,
    step      INTEGER NOT NULL,
    timestamp TEXT    NOT NULL,
    -- NULL stands for NaN (SQLite stores a bound NaN as NULL).
    value     REAL
);

CREATE INDEX observations_trial_attempt ON observations (trial_id, attempt);

CREATE TABLE algorithm_state (
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments (id) ON DELETE CASCADE,
    state         TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
