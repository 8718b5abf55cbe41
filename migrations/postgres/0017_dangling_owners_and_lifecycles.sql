-- Backstage keeps a Component whose owner names no entity (a dangling owner) and a lifecycle
-- outside the three it documents; so does the console now. `dangling_owner` is the owner as
-- written (`group:inpixon`), with no squad and no person: nobody owns the service. The lifecycle
-- column keeps one of the three (the guardrails' class: `experimental` unless the platform
-- defaults map the name), `lifecycle_label` the name as written when it is another one.
ALTER TABLE services ADD COLUMN dangling_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE services ADD COLUMN lifecycle_label TEXT NOT NULL DEFAULT '';
