-- Platform defaults: one TOML document per version; versions are append-only.
CREATE TABLE platform_defaults (
    version    BIGINT PRIMARY KEY,
    document   TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    note       TEXT NOT NULL DEFAULT ''
);
