-- A replica whose connection check fails is kept only disabled, with the SRE's reason, until it
-- is fixed; a disabled replica is not offered in the REPL and runs nothing. Empty: in use.
ALTER TABLE replicas ADD COLUMN disabled_reason TEXT NOT NULL DEFAULT '';
