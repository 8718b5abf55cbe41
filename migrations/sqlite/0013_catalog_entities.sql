-- The whole Backstage model: namespaced keys (`namespace/name` outside the default namespace,
-- in the same `name` columns), services a person owns (no squad), component types, where each
-- descriptor lives, the Group hierarchy, Systems / Domains / APIs / Resources and the edges
-- between entities.
--
-- SQLite cannot drop NOT NULL from services.squad in place, so the table is rebuilt. sqlx runs
-- this in a transaction, where foreign keys cannot be switched off: dropping the old table
-- cascades to the attestations and overrides, so they are copied aside and put back. Both
-- refer to the table by name, so they refer to the rebuilt one.
CREATE TEMP TABLE kept_attestations AS SELECT * FROM attestations;
CREATE TEMP TABLE kept_overrides AS SELECT * FROM service_overrides;
CREATE TABLE services_rebuilt (
    name               TEXT PRIMARY KEY,
    -- NULL when a person owns it (owner_person).
    squad              TEXT REFERENCES squads(name),
    owner_person       TEXT NOT NULL DEFAULT '',
    component_type     TEXT NOT NULL DEFAULT 'service',
    source             TEXT NOT NULL DEFAULT '',
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
    readiness_met      BIGINT NOT NULL,
    readiness_required BIGINT NOT NULL,
    search_text        TEXT NOT NULL
);
INSERT INTO services_rebuilt (name, squad, tier, lifecycle, description, system, repository, runbook, slo, tags, links,
                              k8s_cluster, k8s_namespace, k8s_selector, readiness_met, readiness_required, search_text)
    SELECT name, squad, tier, lifecycle, description, system, repository, runbook, slo, tags, links,
           k8s_cluster, k8s_namespace, k8s_selector, readiness_met, readiness_required, search_text FROM services;
DROP TABLE services;
ALTER TABLE services_rebuilt RENAME TO services;
CREATE INDEX services_by_squad ON services(squad, name);
INSERT INTO attestations SELECT * FROM kept_attestations;
INSERT INTO service_overrides SELECT * FROM kept_overrides;
DROP TABLE kept_attestations;
DROP TABLE kept_overrides;

ALTER TABLE squads ADD COLUMN parent TEXT NOT NULL DEFAULT '';
ALTER TABLE squads ADD COLUMN group_type TEXT NOT NULL DEFAULT '';

CREATE TABLE catalog_entities (
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT '',
    entity_type TEXT NOT NULL DEFAULT '',
    lifecycle   TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, key)
);

CREATE TABLE catalog_relations (
    from_kind TEXT NOT NULL,
    from_key  TEXT NOT NULL,
    relation  TEXT NOT NULL,
    to_kind   TEXT NOT NULL,
    to_key    TEXT NOT NULL,
    PRIMARY KEY (from_kind, from_key, relation, to_kind, to_key)
);
CREATE INDEX catalog_relations_by_target ON catalog_relations(to_kind, to_key);
