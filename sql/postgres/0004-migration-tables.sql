-- What etl-migrate-sqlite moves beside bars and assets (SPEC.md section 8): corporate actions, a
-- provider's asset descriptions, option quotes, and the parity of every migrated table per run.
-- No foreign keys to assets: the migrator makes an orphan symbol an inactive asset before loading, but
-- each table stays loadable on its own (a partial re-run, a restore of one table, a user's own import),
-- and a foreign key would make every bulk load check assets row by row. price_bars has none either.
-- Every table keeps `source` (where the row came from) and `ingested_at` (when it last changed here).

-- One row per (symbol, ex-date, kind). value: a dividend's cash amount per share, or a split's ratio of
-- new shares per old (2 for a 2-for-1, 0.1 for a 1-for-10 reverse split), exact as the source wrote it.
CREATE TABLE IF NOT EXISTS corporate_actions (
    symbol       text        NOT NULL CHECK (symbol <> ''),
    ex_date      date        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('dividend', 'split')),
    value        numeric     NOT NULL,
    source       text        NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, ex_date, kind)
);

-- A provider's description of an asset (Yahoo's Ticker.info, say), kept whole as jsonb: its keys change
-- with the provider's moods, so no columns are promised. fetched_at: when the source fetched it.
CREATE TABLE IF NOT EXISTS asset_info (
    symbol       text        PRIMARY KEY CHECK (symbol <> ''),
    info         jsonb       NOT NULL,
    fetched_at   timestamptz,
    source       text        NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now()
);

-- One option contract's quote as the source last saw it. contract_symbol may be NULL yet belongs to the
-- key, as in Stockula's own unique key; NULLS NOT DISTINCT makes two NULL-contract rows of one strike one
-- row (a plain UNIQUE would take any number of them, and ON CONFLICT would never fire for them).
CREATE TABLE IF NOT EXISTS option_quotes (
    symbol              text        NOT NULL CHECK (symbol <> ''),
    side                text        NOT NULL CHECK (side IN ('call', 'put')),
    expiration          date        NOT NULL,
    strike              numeric     NOT NULL,
    contract_symbol     text,
    last_price          numeric,
    bid                 numeric,
    ask                 numeric,
    implied_volatility  numeric,
    volume              bigint,
    open_interest       bigint,
    in_the_money        boolean,
    fetched_at          timestamptz NOT NULL,
    source              text        NOT NULL,
    ingested_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT option_quotes_contract_key
        UNIQUE NULLS NOT DISTINCT (symbol, side, expiration, strike, contract_symbol)
);

-- How each source table of a run moved: rows read should be inserted + updated + unchanged + rejected +
-- skipped. Not a CHECK: a row that does not add up is exactly what a reader of this table looks for, so
-- it is recorded, never refused. target_table is NULL for a table left behind; rejected_by_reason maps
-- each reason to its count ({} when none). Recording the same (run, table) again replaces the row. The
-- rows go with their run (ON DELETE CASCADE): a pruned run leaves no parity behind.
CREATE TABLE IF NOT EXISTS migration_tables (
    run_id              bigint      NOT NULL REFERENCES etl_runs (id) ON DELETE CASCADE,
    source_table        text        NOT NULL,
    source_file         text        NOT NULL,
    layout              text        NOT NULL,
    target_table        text,
    rows_read           bigint      NOT NULL CHECK (rows_read >= 0),
    rows_inserted       bigint      NOT NULL CHECK (rows_inserted >= 0),
    rows_updated        bigint      NOT NULL CHECK (rows_updated >= 0),
    rows_unchanged      bigint      NOT NULL CHECK (rows_unchanged >= 0),
    rows_rejected       bigint      NOT NULL CHECK (rows_rejected >= 0),
    rows_skipped        bigint      NOT NULL CHECK (rows_skipped >= 0),
    rejected_by_reason  jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rejected_by_reason) = 'object'),
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, source_table)
);
