#!/usr/bin/env python3
"""The reference of bench/derive_bench.sh: pandas computing what `etl derive --full --timeframe 1d` computes
(every indicator of every daily bar, and the statistics of every window) from the same database and back:
the valid daily bars read with psql \\copy into pandas, the definitions of tests/e2e/indicators_ref.py,
the results written back with psql \\copy into indicator_bars_pandas and asset_stats_pandas (created here like
indicator_bars, a row per bar with a column per indicator, and asset_stats). Prints "values N stats ROWS".

usage: derive_pandas.py DATABASE BENCHMARK RISK_FREE_RATE
"""
import io
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
from indicators_ref import indicators, np, pd, stats  # noqa: E402

VALID = ("open > 0 AND high > 0 AND low > 0 AND close > 0 AND high >= open AND high >= close "
         "AND low <= open AND low <= close")


def psql(db, *args, stdin=None):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db, *args], input=stdin,
                       capture_output=True, check=True)
    return p.stdout


def main():
    db, benchmark, rf = sys.argv[1], sys.argv[2], float(sys.argv[3])
    raw = psql(db, "-c", "\\copy (SELECT p.symbol, to_char(p.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD'), p.close::float8, "
                         "a.asset_class = 'crypto' FROM price_bars p LEFT JOIN assets a USING (symbol) "
                         f"WHERE p.timeframe = '1d' AND {VALID} ORDER BY p.symbol, p.ts) TO STDOUT WITH CSV")
    bars = pd.read_csv(io.BytesIO(raw), names=["symbol", "day", "close", "crypto"], parse_dates=["day"])
    bench = bars[bars.symbol == benchmark].set_index("day")["close"]
    bench.index = bench.index.date
    frames, stat_rows = [], []
    values = 0
    for symbol, g in bars.groupby("symbol", sort=False):
        close = g["close"].reset_index(drop=True)
        wide = pd.DataFrame(indicators(close))
        warm = wide.notna().any(axis=1).to_numpy()
        values += int(wide.notna().to_numpy().sum())
        wide = wide[warm]
        wide.insert(0, "ts", (g["day"].dt.strftime("%Y-%m-%d") + " 00:00:00+00").to_numpy()[warm])
        wide.insert(0, "timeframe", "1d")
        wide.insert(0, "symbol", symbol)
        frames.append(wide)
        dated = pd.Series(g["close"].to_numpy(), index=g["day"].dt.date.to_numpy())
        for period, row in stats(dated, bench, rf, bool(g["crypto"].iloc[0])).items():
            stat_rows.append((symbol, period, row["as_of"], row["base_date"], row["returns"], row["roi"],
                              row["volatility"], row["sharpe"], row["sortino"], row["max_drawdown"],
                              row["drawdown_peak"], row["drawdown_trough"], row["beta"], rf))
    out = pd.concat(frames, ignore_index=True)
    psql(db, "-c", "DROP TABLE IF EXISTS indicator_bars_pandas, asset_stats_pandas",
         "-c", "CREATE TABLE indicator_bars_pandas (LIKE indicator_bars INCLUDING ALL)",
         "-c", "CREATE TABLE asset_stats_pandas (symbol text, period text, as_of date, base_date date, returns int, "
               "roi float8, volatility float8, sharpe float8, sortino float8, max_drawdown float8, "
               "drawdown_peak date, drawdown_trough date, beta float8, risk_free_rate float8)")
    buf = io.StringIO()
    # No float_format: numpy writes the shortest text that reads back as the same double, in C.
    out.to_csv(buf, header=False, index=False)
    psql(db, "-c", f"\\copy indicator_bars_pandas ({', '.join(out.columns)}) FROM STDIN WITH CSV",
         stdin=buf.getvalue().encode())
    buf = io.StringIO()
    pd.DataFrame(stat_rows).to_csv(buf, header=False, index=False, float_format="%.17g")
    psql(db, "-c", "\\copy asset_stats_pandas FROM STDIN WITH CSV", stdin=buf.getvalue().encode())
    print(f"values {values} stats {len(stat_rows)}")


if __name__ == "__main__":
    main()
