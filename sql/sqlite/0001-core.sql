-- Core tables of market-etl (embedded SQLite). The same logical tables as sql/postgres/0001-core.sql.
-- Instants are TEXT 'YYYY-MM-DDTHH:MM:SSZ' (sortable, readable); prices NUMERIC.

CREATE TABLE IF NOT EXISTS assets (
    symbol          TEXT PRIMARY KEY NOT NULL CHECK (symbol = upper(symbol) AND symbol <> ''),
    name            TEXT NOT NULL DEFAULT '',
    asset_class     TEXT NOT NULL CHECK (asset_class IN ('stock', 'etf', 'index', 'crypto')),
    exchange        TEXT NOT NULL DEFAULT '',
    currency        TEXT NOT NULL DEFAULT 'USD',
    polygon_ticker  TEXT,
    coingecko_id    TEXT,
    yahoo_symbol    TEXT,
    active          INTEGER NOT NULL DEFAULT 1,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE IF NOT EXISTS price_bars (
    symbol       TEXT    NOT NULL,
    timeframe    TEXT    NOT NULL CHECK (timeframe IN ('1d', '1h')),
    ts           TEXT    NOT NULL,
    open         NUMERIC NOT NULL,
    high         NUMERIC NOT NULL,
    low          NUMERIC NOT NULL,
    close        NUMERIC NOT NULL,
    volume       NUMERIC,
    vwap         NUMERIC,
    trade_count  INTEGER,
    source       TEXT    NOT NULL,
    ingested_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (symbol, timeframe, ts)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS latest_prices (
    symbol          TEXT PRIMARY KEY NOT NULL,
    price           NUMERIC NOT NULL,
    previous_close  NUMERIC,
    change          NUMERIC,
    change_pct      NUMERIC,
    as_of           TEXT NOT NULL,
    source          TEXT NOT NULL,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE IF NOT EXISTS etl_runs (
    id                 INTEGER PRIMARY KEY,
    job                TEXT NOT NULL,
    arguments          TEXT NOT NULL DEFAULT '',
    shard              TEXT NOT NULL DEFAULT '0/1',
    host               TEXT NOT NULL DEFAULT '',
    pid                INTEGER,
    started_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    finished_at        TEXT,
    status             TEXT NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'success', 'partial', 'failed', 'interrupted')),
    exit_code          INTEGER,
    symbols_requested  INTEGER NOT NULL DEFAULT 0,
    symbols_ok         INTEGER NOT NULL DEFAULT 0,
    symbols_failed     INTEGER NOT NULL DEFAULT 0,
    rows_inserted      INTEGER NOT NULL DEFAULT 0,
    rows_updated       INTEGER NOT NULL DEFAULT 0,
    rows_unchanged     INTEGER NOT NULL DEFAULT 0,
    rows_rejected      INTEGER NOT NULL DEFAULT 0,
    error              TEXT
);
CREATE INDEX IF NOT EXISTS etl_runs_job_started_idx ON etl_runs (job, started_at DESC);

CREATE TABLE IF NOT EXISTS rejected_rows (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER REFERENCES etl_runs (id),
    source      TEXT NOT NULL,
    symbol      TEXT NOT NULL,
    timeframe   TEXT,
    raw         TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX IF NOT EXISTS rejected_rows_run_idx ON rejected_rows (run_id);
