-- Imports merge instead of replacing: what the console owns survives them.
--
-- Attestations say where they came from: a descriptor in Git ('git', rewritten by each import)
-- or a squad in the console ('console', kept as long as its service). Rows from before this
-- were made by either; kept as the console's, so no import removes them.
ALTER TABLE attestations ADD COLUMN source TEXT NOT NULL DEFAULT 'console';

-- A console edit of a field the descriptor owns: shown as "overrides Git" and kept while Git
-- still holds `git_value`; dropped when Git changes the field (or the edit sets it back).
CREATE TABLE service_overrides (
    service   TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
    field     TEXT NOT NULL,
    value     TEXT NOT NULL,
    git_value TEXT NOT NULL,
    set_by    TEXT NOT NULL,
    set_at    BIGINT NOT NULL,
    PRIMARY KEY (service, field)
);

-- Every person an identity has been linked to: offboarding a person reaches identities the
-- catalog has since unlinked (a User removed from Git) or relinked.
CREATE TABLE identity_links (
    identity_id TEXT NOT NULL,
    person      TEXT NOT NULL,
    PRIMARY KEY (identity_id, person)
);
INSERT INTO identity_links (identity_id, person) SELECT id, person FROM identities WHERE person IS NOT NULL;
