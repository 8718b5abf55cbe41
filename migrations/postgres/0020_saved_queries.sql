-- Saved, named queries of a service, shared with everyone who may query it (its squad, and those
-- granted access). Running one is a query like any other: audited when it runs.
CREATE TABLE saved_queries (
    service   TEXT NOT NULL,
    name      TEXT NOT NULL,
    sql_text  TEXT NOT NULL,
    saved_by  TEXT NOT NULL,
    saved_at  BIGINT NOT NULL,
    PRIMARY KEY (service, name)
);
