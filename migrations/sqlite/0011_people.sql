-- People and the sign-ins that are theirs.
--
-- A person is the catalog's User (name, verified e-mail, id annotations); the import writes this
-- table. An identity is one provider's account (`provider` + its stable `subject`: the OIDC
-- issuer's `sub`, the GitHub user id, the dev login), linked to at most one person. Sessions and
-- API tokens point at an identity, never at roles: roles are read from the identity row, which
-- sign-in and the periodic re-check rewrite.
CREATE TABLE people (
    name         TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL DEFAULT '',
    github_id    TEXT NOT NULL DEFAULT '',
    oidc_subject TEXT NOT NULL DEFAULT ''
);
CREATE INDEX people_by_email ON people(email);

CREATE TABLE identities (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    person          TEXT,
    login           TEXT NOT NULL,
    -- Who this identity acts as in audits, tokens and squads: the person, else provider:login.
    actor           TEXT NOT NULL,
    display_name    TEXT NOT NULL DEFAULT '',
    email           TEXT NOT NULL DEFAULT '',
    -- JSON: {"squads": [...], "sre": bool}, as the provider last said.
    roles           TEXT NOT NULL,
    checked_at      BIGINT NOT NULL,
    check_failed_at BIGINT,
    checking_until  BIGINT,
    -- The provider's refresh (OIDC) or access (GitHub) token, sealed with the console's key.
    credential      TEXT NOT NULL DEFAULT '',
    UNIQUE (provider, subject)
);
CREATE INDEX identities_by_person ON identities(person);
CREATE INDEX identities_by_actor ON identities(actor);

-- Sessions know whose they are, so a person can see and end them all.
ALTER TABLE sessions ADD COLUMN identity_id TEXT;
CREATE INDEX sessions_by_identity ON sessions(identity_id);

-- Tokens keep the identity, not its roles; they have a scope and an expiry. Tokens made before
-- this froze roles at creation: they are revoked here.
ALTER TABLE api_tokens ADD COLUMN identity_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read';
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE api_tokens SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE revoked_at IS NULL;
CREATE INDEX api_tokens_by_identity ON api_tokens(identity_id);

-- Time-bound access for non-owners (incident responders): REPL or logs of one service.
CREATE TABLE access_grants (
    id         TEXT PRIMARY KEY,
    grantee    TEXT NOT NULL,
    service    TEXT NOT NULL,
    access     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_grants_by_grantee ON access_grants(grantee, expires_at);
CREATE INDEX access_grants_by_service ON access_grants(service, expires_at);

-- The owning squad browses who read its service's logs and data.
CREATE INDEX audit_events_by_entity ON audit_events(entity, id);
