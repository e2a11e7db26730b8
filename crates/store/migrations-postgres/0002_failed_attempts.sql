-- ferrotune store (PostgreSQL), schema version 2: how many of a trial's attempts failed
-- and were run again (spec.maxTrialRetries counts these, not attempts that a restart
-- interrupted).
ALTER TABLE trials ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0;
