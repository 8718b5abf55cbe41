-- Functions an SRE allows on one replica beyond the built-in allow-list (JSON array of names).
ALTER TABLE replicas ADD COLUMN extra_functions TEXT;
