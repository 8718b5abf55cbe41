-- SQLite has no TRUNCATE (its DELETE without WHERE fires the row trigger that refuses it): this
-- migration keeps the numbering in step with PostgreSQL's, which blocks TRUNCATE on audit_events.
SELECT 1;
