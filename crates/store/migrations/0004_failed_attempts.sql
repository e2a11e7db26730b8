-- ferrotune store, schema version 4: how many of a trial's attempts failed and were run
-- again (spec.maxTrialRetries counts these, not attempts that a restart interrupted).
ALTER TABLE trials ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
