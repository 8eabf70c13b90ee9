-- With TimescaleDB the weekly and monthly rollups of postgres/0008 become continuous aggregates with
-- the same columns: materialised by a refresh policy every hour, with real-time aggregation on
-- (materialized_only = false), so a read also sees the daily bars loaded since the last refresh.
-- Created WITH NO DATA inside the migration's transaction; the policy materialises them. chart_bars()
-- resolves price_bars_1wk when called, so it reads the aggregate from now on.
DROP VIEW IF EXISTS price_bars_1wk;
DROP VIEW IF EXISTS price_bars_1mo;

CREATE MATERIALIZED VIEW price_bars_1wk
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT symbol,
       time_bucket(INTERVAL '1 week', ts) AS ts,
       first(open, ts)   AS open,
       max(high)         AS high,
       min(low)          AS low,
       last(close, ts)   AS close,
       sum(volume)       AS volume,
       count(*)          AS bars
FROM price_bars
WHERE timeframe = '1d'
GROUP BY symbol, time_bucket(INTERVAL '1 week', ts)
WITH NO DATA;

CREATE MATERIALIZED VIEW price_bars_1mo
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT symbol,
       time_bucket(INTERVAL '1 month', ts) AS ts,
       first(open, ts)   AS open,
       max(high)         AS high,
       min(low)          AS low,
       last(close, ts)   AS close,
       sum(volume)       AS volume,
       count(*)          AS bars
FROM price_bars
WHERE timeframe = '1d'
GROUP BY symbol, time_bucket(INTERVAL '1 month', ts)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('price_bars_1wk', start_offset => NULL, end_offset => INTERVAL '1 hour',
                                       schedule_interval => INTERVAL '1 hour', if_not_exists => true);
SELECT add_continuous_aggregate_policy('price_bars_1mo', start_offset => NULL, end_offset => INTERVAL '1 hour',
                                       schedule_interval => INTERVAL '1 hour', if_not_exists => true);
