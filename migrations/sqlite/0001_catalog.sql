-- The service catalog. Lists (members, tags, links) of a row are JSON text.
CREATE TABLE squads (
    name            TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    chat_channel    TEXT NOT NULL DEFAULT '',
    oncall_rotation TEXT NOT NULL DEFAULT '',
    oncall_url      TEXT NOT NULL DEFAULT '',
    links           TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE squad_members (
    squad  TEXT NOT NULL REFERENCES squads(name) ON DELETE CASCADE,
    member TEXT NOT NULL,
    PRIMARY KEY (squad, member)
);
CREATE INDEX squad_members_by_member ON squad_members(member);

CREATE TABLE services (
    name               TEXT PRIMARY KEY,
    squad              TEXT NOT NULL REFERENCES squads(name),
    tier               BIGINT NOT NULL CHECK (tier BETWEEN 1 AND 4),
    lifecycle          TEXT NOT NULL CHECK (lifecycle IN ('experimental', 'production', 'deprecated')),
    description        TEXT NOT NULL DEFAULT '',
    system             TEXT NOT NULL DEFAULT '',
    repository         TEXT NOT NULL DEFAULT '',
    runbook            TEXT NOT NULL DEFAULT '',
    slo                TEXT NOT NULL DEFAULT '',
    tags               TEXT NOT NULL DEFAULT '[]',
    links              TEXT NOT NULL DEFAULT '[]',
    k8s_cluster        TEXT NOT NULL DEFAULT '',
    k8s_namespace      TEXT NOT NULL DEFAULT '',
    k8s_selector       TEXT NOT NULL,
    -- Denormalised so the catalog can filter and sort by readiness without computing it.
    readiness_met      BIGINT NOT NULL,
    readiness_required BIGINT NOT NULL,
    -- Lower-cased name, description, tags and squad, for substring search.
    search_text        TEXT NOT NULL
);
CREATE INDEX services_by_squad ON services(squad, name);

CREATE TABLE attestations (
    service     TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
    check_id    TEXT NOT NULL,
    attested_by TEXT NOT NULL,
    attested_at TEXT NOT NULL,
    PRIMARY KEY (service, check_id)
);
