-- Per-user limits counted in the store, so they hold across console replicas.

-- A running slot (one query per user and replica; later log follows and live views): held by
-- one acquisition, renewed by its heartbeat, taken over by anyone once it has expired, so a
-- killed console's slots free themselves. `cancel` is how any console replica stops the holder.
CREATE TABLE limiter_leases (
    kind        TEXT NOT NULL,
    login       TEXT NOT NULL,
    resource    TEXT NOT NULL,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    cancel      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, login, resource)
);

-- A token bucket per user and kind (thousandths of a token): a per-minute rate.
CREATE TABLE limiter_buckets (
    kind         TEXT NOT NULL,
    login        TEXT NOT NULL,
    milli_tokens BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (kind, login)
);
