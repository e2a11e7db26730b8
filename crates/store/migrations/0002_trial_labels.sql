-- ferrotune store, schema version 2: the labels an algorithm gives a trial (JSON object of
-- strings, e.g. PBT's parent), so that it sees them again after a restart.
ALTER TABLE trials ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
