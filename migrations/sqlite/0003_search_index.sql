-- SQLite needs no extra index: its scan of the catalog is fast enough (see BENCHMARKS.md).
SELECT 1;
