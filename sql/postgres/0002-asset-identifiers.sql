-- Provider identifiers without a column of their own: one row per (symbol, provider), so a provider
-- added to the registry names assets its own way with no further migration. The providers of 0001 keep
-- their assets columns (polygon_ticker, coingecko_id, yahoo_symbol: columns never shrink, and users'
-- queries read them); each identifier lives in one place, which the provider's registry row decides.

CREATE TABLE IF NOT EXISTS asset_identifiers (
    symbol      text NOT NULL REFERENCES assets (symbol) ON DELETE CASCADE,
    provider    text NOT NULL CHECK (provider <> ''),
    identifier  text NOT NULL CHECK (identifier <> ''),
    PRIMARY KEY (symbol, provider)
);
