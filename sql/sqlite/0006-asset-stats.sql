-- Return and risk statistics and pair comparisons (see sql/postgres/0009); dates as YYYY-MM-DD.
CREATE TABLE IF NOT EXISTS asset_stats (
    symbol           TEXT    NOT NULL,
    period           TEXT    NOT NULL CHECK (period IN ('7D', '30D', '90D', 'YTD', '1Y', '3Y', '5Y')),
    as_of            TEXT    NOT NULL,
    base_date        TEXT    NOT NULL,
    returns          INTEGER NOT NULL,
    roi              REAL    NOT NULL,
    volatility       REAL,
    sharpe           REAL,
    sortino          REAL,
    max_drawdown     REAL    NOT NULL,
    drawdown_peak    TEXT,
    drawdown_trough  TEXT,
    beta             REAL,
    benchmark        TEXT,
    risk_free_rate   REAL    NOT NULL,
    computed_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (symbol, period)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS asset_comparisons (
    symbol_a      TEXT NOT NULL,
    symbol_b      TEXT NOT NULL,
    period        TEXT NOT NULL CHECK (period IN ('7D', '30D', '90D', 'YTD', '1Y', '3Y', '5Y')),
    as_of         TEXT NOT NULL,
    price_ratio   REAL NOT NULL,
    volume_ratio  REAL,
    roi_spread    REAL NOT NULL,
    correlation   REAL,
    computed_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (symbol_a, symbol_b, period)
) WITHOUT ROWID;
