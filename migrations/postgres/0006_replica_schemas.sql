-- Schemas a replica's queries may read (JSON list); NULL or empty: all.
ALTER TABLE replicas ADD COLUMN allowed_schemas TEXT;
