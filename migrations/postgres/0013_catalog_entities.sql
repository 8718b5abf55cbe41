-- The whole Backstage model: namespaced keys (`namespace/name` outside the default namespace,
-- in the same `name` columns), services a person owns (no squad), component types, where each
-- descriptor lives, the Group hierarchy, Systems / Domains / APIs / Resources and the edges
-- between entities.
ALTER TABLE services ALTER COLUMN squad DROP NOT NULL;
ALTER TABLE services ADD COLUMN owner_person TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN component_type TEXT NOT NULL DEFAULT 'service';
ALTER TABLE services ADD COLUMN source TEXT NOT NULL DEFAULT '';

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
