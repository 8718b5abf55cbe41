-- What the import at start last read from each descriptor directory: replicas starting together
-- take turns under a limiter lease, and skip an import of files that have not changed.
CREATE TABLE catalog_imports (
    dir         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    imported_at BIGINT NOT NULL
);

-- Work that wrote a `started` event and owes its end: held under a limiter lease (`holder`).
-- Whoever deletes the row writes the end event: the console running it, or, once the lease has
-- expired (its console died without draining), a surviving replica, which also stops the
-- statement on the replica (`backend`: the engine's id of the session running it).
CREATE TABLE running_work (
    attempt     TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    token       TEXT NOT NULL,
    entity      TEXT NOT NULL,
    target      TEXT NOT NULL,
    backend     TEXT NOT NULL DEFAULT '',
    started_at  BIGINT NOT NULL
);
