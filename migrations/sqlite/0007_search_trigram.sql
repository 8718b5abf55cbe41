-- PostgreSQL gets a trigram index for substring search here; SQLite has none and scans the
-- catalog fast enough (see BENCHMARKS.md).
SELECT 1;
