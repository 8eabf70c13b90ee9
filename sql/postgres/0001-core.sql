-- Core tables of market-etl (PostgreSQL). Applied once, in a transaction, recorded in schema_migrations.
-- Names are part of the contract (SPEC.md section 3); columns may grow in later migrations, never shrink.

CREATE TABLE IF NOT EXISTS assets (
    symbol          text PRIMARY KEY CHECK (symbol = upper(symbol) AND symbol <> ''),
    name            text NOT NULL DEFAULT '',
    asset_class     text NOT NULL CHECK (asset_class IN ('stock', 'etf', 'index', 'crypto')),
    exchange        text NOT NULL DEFAULT '',
    currency        text NOT NULL DEFAULT 'USD',
    polygon_ticker  text,
    coingecko_id    text,
    yahoo_symbol    text,
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per (symbol, timeframe, bar start). Daily bars: ts = session date at 00:00 UTC.
-- Prices are NUMERIC so the provider's decimals are kept exactly.
CREATE TABLE IF NOT EXISTS price_bars (
    symbol       text        NOT NULL,
    timeframe    text        NOT NULL CHECK (timeframe IN ('1d', '1h')),
    ts           timestamptz NOT NULL,
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       numeric,
    vwap         numeric,
    trade_count  bigint,
    source       text        NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, timeframe, ts)
);

CREATE TABLE IF NOT EXISTS latest_prices (
    symbol          text PRIMARY KEY,
    price           numeric NOT NULL,
    previous_close  numeric,
    change          numeric,
    change_pct      numeric,
    as_of           timestamptz NOT NULL,
    source          text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS etl_runs (
    id                 bigserial PRIMARY KEY,
    job                text NOT NULL,
    arguments          text NOT NULL DEFAULT '',
    shard              text NOT NULL DEFAULT '0/1',
    host               text NOT NULL DEFAULT '',
    pid                integer,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    status             text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'success', 'partial', 'failed', 'interrupted')),
    exit_code          integer,
    symbols_requested  integer NOT NULL DEFAULT 0,
    symbols_ok         integer NOT NULL DEFAULT 0,
    symbols_failed     integer NOT NULL DEFAULT 0,
    rows_inserted      bigint NOT NULL DEFAULT 0,
    rows_updated       bigint NOT NULL DEFAULT 0,
    rows_unchanged     bigint NOT NULL DEFAULT 0,
    rows_rejected      bigint NOT NULL DEFAULT 0,
    error              text
);
CREATE INDEX IF NOT EXISTS etl_runs_job_started_idx ON etl_runs (job, started_at DESC);

CREATE TABLE IF NOT EXISTS rejected_rows (
    id          bigserial PRIMARY KEY,
    run_id      bigint REFERENCES etl_runs (id),
    source      text NOT NULL,
    symbol      text NOT NULL,
    timeframe   text,
    raw         text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS rejected_rows_run_idx ON rejected_rows (run_id);
