-- Weekly and monthly bars rolled up from the daily ones, and chart_bars, the bars a chart of each range
-- shows (see sql/postgres/0008; SQLite has no SQL functions, so chart_bars is a view to filter:
-- SELECT * FROM chart_bars WHERE symbol = ? AND range = ? ORDER BY ts). Same columns as PostgreSQL.
-- A week is labelled by its Monday, a month by its 1st, 00:00 UTC; open/close are the first/last daily
-- bar's (looked up by primary key), high = max, low = min, volume = sum, bars = daily bars in the bucket.
CREATE VIEW IF NOT EXISTS price_bars_1wk AS
SELECT g.symbol, g.ts,
       (SELECT o.open FROM price_bars o WHERE o.symbol = g.symbol AND o.timeframe = '1d' AND o.ts = g.first_ts) AS open,
       g.high, g.low,
       (SELECT c.close FROM price_bars c WHERE c.symbol = g.symbol AND c.timeframe = '1d' AND c.ts = g.last_ts) AS close,
       g.volume, g.bars
FROM (SELECT symbol, strftime('%Y-%m-%dT00:00:00Z', ts, 'weekday 0', '-6 days') AS ts, min(ts) AS first_ts,
             max(ts) AS last_ts, max(high) AS high, min(low) AS low, sum(volume) AS volume, count(*) AS bars
      FROM price_bars WHERE timeframe = '1d' GROUP BY 1, 2) g;

CREATE VIEW IF NOT EXISTS price_bars_1mo AS
SELECT g.symbol, g.ts,
       (SELECT o.open FROM price_bars o WHERE o.symbol = g.symbol AND o.timeframe = '1d' AND o.ts = g.first_ts) AS open,
       g.high, g.low,
       (SELECT c.close FROM price_bars c WHERE c.symbol = g.symbol AND c.timeframe = '1d' AND c.ts = g.last_ts) AS close,
       g.volume, g.bars
FROM (SELECT symbol, strftime('%Y-%m-01T00:00:00Z', ts) AS ts, min(ts) AS first_ts, max(ts) AS last_ts,
             max(high) AS high, min(low) AS low, sum(volume) AS volume, count(*) AS bars
      FROM price_bars WHERE timeframe = '1d' GROUP BY 1, 2) g;

-- The range rules of chart_bars() in sql/postgres/0008, as one view: 1D the hourly bars of the symbol's
-- newest day with hourly bars; 7D..1Y daily bars from today (UTC) minus the range (YTD: January 1st);
-- 3Y 5Y MAX weekly bars from today minus the range. "Minus N months" ends on the last day of a shorter
-- month (March 31st minus one month is February 28th or 29th), as PostgreSQL's interval arithmetic does.
CREATE VIEW IF NOT EXISTS chart_bars AS
SELECT b.symbol, '1D' AS range, b.ts, b.open, b.high, b.low, b.close, b.volume FROM price_bars b
WHERE b.timeframe = '1h'
  AND b.ts >= (SELECT strftime('%Y-%m-%dT00:00:00Z', max(h.ts)) FROM price_bars h
               WHERE h.symbol = b.symbol AND h.timeframe = '1h')
UNION ALL
SELECT d.symbol, r.range, d.ts, d.open, d.high, d.low, d.close, d.volume
FROM price_bars d
JOIN (SELECT '7D' AS range, strftime('%Y-%m-%dT00:00:00Z', 'now', '-7 days') AS since
      UNION ALL SELECT '1M', min(date('now', '-1 months'), date('now', 'start of month', '-1 day')) || 'T00:00:00Z'
      UNION ALL SELECT '3M', min(date('now', '-3 months'), date('now', 'start of month', '-2 months', '-1 day')) || 'T00:00:00Z'
      UNION ALL SELECT '6M', min(date('now', '-6 months'), date('now', 'start of month', '-5 months', '-1 day')) || 'T00:00:00Z'
      UNION ALL SELECT 'YTD', strftime('%Y-01-01T00:00:00Z', 'now')
      UNION ALL SELECT '1Y', min(date('now', '-12 months'), date('now', 'start of month', '-11 months', '-1 day')) || 'T00:00:00Z') r
  ON d.ts >= r.since
WHERE d.timeframe = '1d'
UNION ALL
SELECT w.symbol, r.range, w.ts, w.open, w.high, w.low, w.close, w.volume
FROM price_bars_1wk w
JOIN (SELECT '3Y' AS range, min(date('now', '-36 months'), date('now', 'start of month', '-35 months', '-1 day')) || 'T00:00:00Z' AS since
      UNION ALL SELECT '5Y', min(date('now', '-60 months'), date('now', 'start of month', '-59 months', '-1 day')) || 'T00:00:00Z'
      UNION ALL SELECT 'MAX', '0000') r
  ON w.ts >= r.since;
