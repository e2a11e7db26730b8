-- ferrotune store, schema version 3: Katib's DB manager observation logs, keyed as Katib
-- keys them (by trial name), for `ferrotune server`'s DBManager service. Values are kept
-- as the text Katib sends (it may send "unavailable").
CREATE TABLE katib_observation_logs (
    id          INTEGER PRIMARY KEY,
    trial_name  TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    -- RFC 3339 in UTC with microseconds, so that it sorts lexically.
    time_stamp  TEXT NOT NULL,
    value       TEXT NOT NULL
);
CREATE INDEX katib_observation_logs_by_trial ON katib_observation_logs (trial_name, time_stamp);
