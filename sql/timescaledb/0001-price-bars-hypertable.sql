-- Applied only when the timescaledb extension is available (detected at run time); plain PostgreSQL
-- keeps price_bars as an ordinary table. Recorded in schema_migrations as timescaledb/<file>.
-- The compression policy and the hourly retention job (0002) are kept in line with config
-- (timescaledb.compress_after_days, timescaledb.retention_days) by the loader on every start.

-- 30-day chunks: a year of daily bars for thousands of symbols, or a month of hourly bars, per chunk.
SELECT create_hypertable('price_bars', 'ts', chunk_time_interval => INTERVAL '30 days',
                         if_not_exists => true, migrate_data => true);

ALTER TABLE price_bars SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol, timeframe',
    timescaledb.compress_orderby = 'ts DESC'
);
