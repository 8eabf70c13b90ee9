-- The daily bars of a generated store, shared by bench/validate_bench.sh and bench/derive_bench.sh (psql
-- variables: n symbols named :prefix0001..., years of daily bars up to end_day). Symbols are classed by
-- number (1 in 100 crypto, 1 in 100 index, 1 in 10 etf, the rest stock), with a base price of 50..500, all
-- active. Daily bars: a seeded random walk of log returns (|r| between 0.2 % and 2 %, so no spike and no
-- stale close), OHLC consistent at 2 decimals (open near the previous close, high >= max(open, close),
-- low <= min(open, close)), every weekday for equities and every day for crypto (whose last completed
-- day is the day before end_day). Leaves the temporary table syms (symbol, i, asset_class, base) for the
-- caller's next file in the same session.
SET TimeZone = 'UTC';
SET work_mem = '64MB';
SET synchronous_commit = off;
SELECT setseed(0.42);
CREATE TEMP TABLE syms AS
SELECT format('%s%s', :'prefix', lpad(i::text, 4, '0')) AS symbol, i,
       CASE WHEN i % 100 = 0 THEN 'crypto' WHEN i % 100 = 50 THEN 'index' WHEN i % 10 = 5 THEN 'etf' ELSE 'stock' END AS asset_class,
       50 + random() * 450 AS base
FROM generate_series(1, :n) i;
INSERT INTO assets (symbol, name, asset_class, exchange, active)
SELECT symbol, 'Bench ' || symbol, asset_class, CASE WHEN asset_class = 'crypto' THEN '' ELSE 'XNYS' END, true FROM syms ORDER BY symbol;

INSERT INTO price_bars (symbol, timeframe, ts, open, high, low, close, volume, vwap, trade_count, source)
SELECT s.symbol, '1d', x.d::timestamp AT TIME ZONE 'UTC', x.o,
       round(greatest(x.o, x.c) * (1 + x.u1 * 0.01), 2), round(least(x.o, x.c) * (1 - x.u2 * 0.01), 2), x.c,
       x.v, round((x.o + x.c) / 2, 4), (x.v / 100)::bigint, 'bench'
FROM syms s
CROSS JOIN LATERAL (
    SELECT y.d, round((s.base * exp(y.cum - y.r + y.gap))::numeric, 2) AS o, round((s.base * exp(y.cum))::numeric, 2) AS c,
           y.u1, y.u2, y.v
    FROM (
        SELECT z.*, sum(z.r) OVER (ORDER BY z.d) AS cum
        FROM (
            SELECT g.d::date AS d,
                   (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * (0.002 + abs(random() + random() + random() - 1.5) * 0.012) AS r,
                   (random() - 0.5) * 0.002 AS gap, random()::numeric AS u1, random()::numeric AS u2,
                   (100000 + random() * 5000000)::bigint::numeric AS v
            FROM generate_series((:'end_day'::date - make_interval(years => :years))::date + 1,
                                 :'end_day'::date - CASE WHEN s.asset_class = 'crypto' THEN 1 ELSE 0 END, interval '1 day') g(d)
            WHERE s.asset_class = 'crypto' OR extract(isodow FROM g.d) < 6
        ) z
    ) y
) x;
