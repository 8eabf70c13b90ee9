-- Runs moved from a market-etl SQLite file by etl-migrate-sqlite get new ids; migrated_from names the
-- file and the old id ("sqlite:/path/market-etl.db#42"), so a re-run of the migration finds them and
-- moves nothing twice. NULL for the runs of this database.

ALTER TABLE etl_runs ADD COLUMN IF NOT EXISTS migrated_from text;
CREATE UNIQUE INDEX IF NOT EXISTS etl_runs_migrated_from_idx ON etl_runs (migrated_from)
    WHERE migrated_from IS NOT NULL;
