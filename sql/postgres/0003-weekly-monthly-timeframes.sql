-- Weekly and monthly bars ('1wk', '1mo'): yfinance's intervals, which Stockula databases hold and
-- etl-migrate-sqlite moves here (a week labelled by its Monday, a month by its 1st, 00:00 UTC). The
-- check is replaced, not dropped; on a TimescaleDB hypertable it validates compressed chunks too.
-- The embedded SQLite store keeps '1d'/'1h': nothing writes other timeframes into it (the migrator
-- targets PostgreSQL), and SQLite could only widen a CHECK by rebuilding price_bars.

ALTER TABLE price_bars DROP CONSTRAINT IF EXISTS price_bars_timeframe_check;
ALTER TABLE price_bars ADD CONSTRAINT price_bars_timeframe_check
    CHECK (timeframe IN ('1d', '1h', '1wk', '1mo'));
