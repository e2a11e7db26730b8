-- ferrotune store (PostgreSQL), schema version 3: experiment names are unique within their
-- namespace, not across namespaces, so that tenants choose names freely and a taken name
-- tells nobody what another namespace holds.
ALTER TABLE experiments DROP CONSTRAINT experiments_name_key;
ALTER TABLE experiments ADD CONSTRAINT experiments_namespace_name_key UNIQUE (namespace, name);
CREATE INDEX experiments_by_name ON experiments (name);
