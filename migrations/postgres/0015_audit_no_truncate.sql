-- TRUNCATE fires no row trigger: without this, the append-only audit log could be emptied at once.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
