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

-- Every query attempt, allowed, refused or failed. Append-only: a trigger refuses changes.
CREATE TABLE query_audit (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
CREATE FUNCTION query_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'query_audit is append-only';
END $$;
CREATE TRIGGER query_audit_no_change BEFORE UPDATE OR DELETE ON query_audit
    FOR EACH ROW EXECUTE FUNCTION query_audit_append_only();
