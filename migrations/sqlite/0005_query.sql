-- Read replicas SREs designate for a service. The credential is never stored: only where to
-- read it (an environment variable or a file).
CREATE TABLE replicas (
    id                   TEXT PRIMARY KEY,
    service              TEXT NOT NULL,
    name                 TEXT NOT NULL,
    engine               TEXT NOT NULL CHECK (engine IN ('postgres', 'mysql', 'sqlite')),
    url                  TEXT NOT NULL,
    credential_env       TEXT NOT NULL DEFAULT '',
    credential_file      TEXT NOT NULL DEFAULT '',
    statement_timeout_ms BIGINT,
    row_cap              BIGINT,
    masks                TEXT,
    created_by           TEXT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX replicas_by_service ON replicas(service);

-- Every query attempt, allowed, refused or failed. Append-only: triggers refuse changes.
CREATE TABLE query_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    login       TEXT NOT NULL,
    service     TEXT NOT NULL,
    replica     TEXT NOT NULL,
    sql_text    TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('allowed', 'refused', 'failed')),
    reason      TEXT NOT NULL DEFAULT '',
    row_count   BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX query_audit_by_login ON query_audit(login, id);
CREATE TRIGGER query_audit_no_update BEFORE UPDATE ON query_audit BEGIN SELECT RAISE(ABORT, 'query_audit is append-only'); END;
CREATE TRIGGER query_audit_no_delete BEFORE DELETE ON query_audit BEGIN SELECT RAISE(ABORT, 'query_audit is append-only'); END;
