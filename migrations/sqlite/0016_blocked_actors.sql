-- Offboarding is sticky: the names an offboarded person acted under (the person, and every
-- identity's provider:subject and actor) may not sign in again until an SRE lifts the block.
CREATE TABLE blocked_actors (
    actor      TEXT PRIMARY KEY,
    blocked_by TEXT NOT NULL,
    blocked_at BIGINT NOT NULL
);
