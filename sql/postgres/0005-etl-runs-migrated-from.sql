-- Runs moved from a market-etl SQLite file by etl-migrate-sqlite get new ids; migrated_from names the
-- old run ("market-etl run 42 (job etl-historical, host h, pid 7, started 2025-03-14T21:00:00Z)", the
-- same whatever path or copy of the file is read), so a re-run of the migration finds them and moves
-- nothing twice. NULL for the runs of this database.

ALTER TABLE etl_runs ADD COLUMN IF NOT EXISTS migrated_from text;
CREATE UNIQUE INDEX IF NOT EXISTS etl_runs_migrated_from_idx ON etl_runs (migrated_from)
    WHERE migrated_from IS NOT NULL;
