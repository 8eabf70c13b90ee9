-- Technical indicators derived from price_bars (see sql/postgres/0007): one row per symbol, timeframe,
-- bar (ts as in price_bars) and indicator name, written only once the indicator's warm-up is complete.
CREATE TABLE IF NOT EXISTS indicators (
    symbol     TEXT NOT NULL,
    timeframe  TEXT NOT NULL CHECK (timeframe IN ('1d', '1h', '1wk', '1mo')),
    ts         TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      REAL NOT NULL,
    PRIMARY KEY (symbol, timeframe, ts, name)
) WITHOUT ROWID;
