-- Weekly and monthly bars rolled up from the daily ones, for long chart ranges (issue 12 point 3), and
-- chart_bars(symbol, range), which holds the range rules in one place. On plain PostgreSQL the rollups
-- are views (computed when read; a symbol's filter reaches the daily rows through the GROUP BY). With
-- TimescaleDB, timescaledb/0003 replaces them with continuous aggregates of the same columns.
-- A week is labelled by its Monday, a month by its 1st, 00:00 UTC (as migrated 1wk/1mo bars are):
-- open = the first daily open, high = max, low = min, close = the last daily close, volume = sum,
-- bars = how many daily bars the bucket holds (a week in progress has fewer than 5).
CREATE OR REPLACE VIEW price_bars_1wk AS
SELECT symbol,
       date_trunc('week', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS ts,
       (array_agg(open ORDER BY ts))[1]        AS open,
       max(high)                               AS high,
       min(low)                                AS low,
       (array_agg(close ORDER BY ts DESC))[1]  AS close,
       sum(volume)                             AS volume,
       count(*)                                AS bars
FROM price_bars
WHERE timeframe = '1d'
GROUP BY symbol, 2;

CREATE OR REPLACE VIEW price_bars_1mo AS
SELECT symbol,
       date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS ts,
       (array_agg(open ORDER BY ts))[1]        AS open,
       max(high)                               AS high,
       min(low)                                AS low,
       (array_agg(close ORDER BY ts DESC))[1]  AS close,
       sum(volume)                             AS volume,
       count(*)                                AS bars
FROM price_bars
WHERE timeframe = '1d'
GROUP BY symbol, 2;

-- The bars a chart of `range` shows, oldest first:
--   1D                    the hourly bars of the symbol's newest day with hourly bars (UTC date);
--   7D 1M 3M 6M YTD 1Y    daily bars from today (UTC) minus the range (YTD: from January 1st);
--   3Y 5Y MAX             weekly bars (price_bars_1wk) whose week starts on or after today minus the range.
-- Case-insensitive; another range raises SQLSTATE 22023 naming the ranges. The body is resolved when
-- called, so price_bars_1wk may be a view or a continuous aggregate.
CREATE OR REPLACE FUNCTION chart_bars(p_symbol text, p_range text)
RETURNS TABLE (ts timestamptz, open numeric, high numeric, low numeric, close numeric, volume numeric)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    r text := upper(p_range);
    today timestamptz := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
    IF r = '1D' THEN
        RETURN QUERY
        SELECT b.ts, b.open, b.high, b.low, b.close, b.volume FROM price_bars b
        WHERE b.symbol = p_symbol AND b.timeframe = '1h'
          AND b.ts >= (SELECT date_trunc('day', max(h.ts) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                       FROM price_bars h WHERE h.symbol = p_symbol AND h.timeframe = '1h')
        ORDER BY b.ts;
    ELSIF r IN ('7D', '1M', '3M', '6M', 'YTD', '1Y') THEN
        RETURN QUERY
        SELECT b.ts, b.open, b.high, b.low, b.close, b.volume FROM price_bars b
        WHERE b.symbol = p_symbol AND b.timeframe = '1d'
          AND b.ts >= CASE r WHEN '7D' THEN today - interval '7 days'
                             WHEN '1M' THEN today - interval '1 month'
                             WHEN '3M' THEN today - interval '3 months'
                             WHEN '6M' THEN today - interval '6 months'
                             WHEN 'YTD' THEN date_trunc('year', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                             ELSE today - interval '1 year' END
        ORDER BY b.ts;
    ELSIF r IN ('3Y', '5Y', 'MAX') THEN
        RETURN QUERY
        SELECT w.ts, w.open, w.high, w.low, w.close, w.volume FROM price_bars_1wk w
        WHERE w.symbol = p_symbol
          AND (r = 'MAX' OR w.ts >= today - CASE r WHEN '3Y' THEN interval '3 years' ELSE interval '5 years' END)
        ORDER BY w.ts;
    ELSE
        RAISE EXCEPTION 'chart_bars: unknown range "%": use 1D, 7D, 1M, 3M, 6M, YTD, 1Y, 3Y, 5Y or MAX', p_range
            USING ERRCODE = '22023';
    END IF;
END
$$;
