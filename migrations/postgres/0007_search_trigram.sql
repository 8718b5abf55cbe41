-- Substring search (LIKE '%text%') through a trigram index: without it, a free-text search
-- scans every service (5-13 ms for 20,000 here); with it, 0.3-3.6 ms (see BENCHMARKS.md).
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX services_search_trgm ON services USING gin (search_text gin_trgm_ops);
