-- Provider identifiers without a column of their own (see sql/postgres/0002): one row per
-- (symbol, provider); the providers of 0001 keep their assets columns.

CREATE TABLE IF NOT EXISTS asset_identifiers (
    symbol      TEXT NOT NULL REFERENCES assets (symbol) ON DELETE CASCADE,
    provider    TEXT NOT NULL CHECK (provider <> ''),
    identifier  TEXT NOT NULL CHECK (identifier <> ''),
    PRIMARY KEY (symbol, provider)
);
