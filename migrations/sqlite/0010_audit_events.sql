-- The audit as one append-only event log for every feature that must leave a record: query
-- attempts (query.started, then query.finished or query.abandoned), throttling (query.throttled,
-- one per user and minute), and next sign-ins, reads, removed services and archive runs.
-- `attempt` ties the events of one action together; `actor` is the person, `token` the API
-- token they used (if any), `entity` what it was about (the service), `target` where (the replica).
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    attempt     TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    token       TEXT NOT NULL DEFAULT '',
    entity      TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    sql_text    TEXT NOT NULL DEFAULT '',
    row_count   BIGINT NOT NULL DEFAULT 0,
    byte_count  BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX audit_events_by_actor ON audit_events(actor, id);
CREATE INDEX audit_events_by_attempt ON audit_events(attempt);

-- The query audit so far becomes finished attempts of the log.
INSERT INTO audit_events (at, kind, attempt, actor, entity, target, outcome, detail, sql_text, row_count, duration_ms)
    SELECT at, 'query.finished', 'legacy-' || id, login, service, replica, outcome, reason, sql_text, row_count, duration_ms
    FROM query_audit ORDER BY id;
DROP TABLE query_audit;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
