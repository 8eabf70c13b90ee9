-- The closes a derive goes on from (see sql/postgres/0011).
CREATE TABLE IF NOT EXISTS derive_closes (
    symbol      TEXT NOT NULL,
    timeframe   TEXT NOT NULL CHECK (timeframe IN ('1d', '1h', '1wk', '1mo')),
    closes      BLOB NOT NULL,
    recent      BLOB NOT NULL DEFAULT x'',
    computed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    PRIMARY KEY (symbol, timeframe)
);
