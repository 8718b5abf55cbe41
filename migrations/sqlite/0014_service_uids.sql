-- A stable uid per service, so its audit outlives it and a new service reusing its name does
-- not inherit it: audit events record the uid of the service they are about. Events from before
-- this carry none: they belong to the services of that name as they are now, recorded here, and
-- to no later service reusing a name.
ALTER TABLE services ADD COLUMN uid TEXT NOT NULL DEFAULT '';
UPDATE services SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX services_by_uid ON services(uid);
CREATE TABLE audit_names_before_uids (
    name TEXT PRIMARY KEY,
    uid  TEXT NOT NULL
);
INSERT INTO audit_names_before_uids (name, uid) SELECT name, uid FROM services;
ALTER TABLE audit_events ADD COLUMN entity_uid TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_by_entity_uid ON audit_events(entity_uid, id);
