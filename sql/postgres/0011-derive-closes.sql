-- The closes a derive goes on from (issue 12 point 6): per symbol and timeframe, the newest valid closes
-- packed as bytes by lib/etl/derive/closes.hpp (16 per close), written with the indicators in one
-- transaction. The next derive reads them and only the bars after its resume point, instead of each
-- symbol's warm-up and five years of closes for the statistics. `closes` holds the older ones and
-- `recent` those added since `closes` was written, so a daily derive rewrites a few hundred bytes per
-- symbol, not five years of closes (an UPDATE of `recent` leaves the stored `closes` where it is).
-- A derived cache, UNLOGGED: no WAL for it, and a server crash empties it; etl derive --full rewrites it,
-- and a row that is missing or does not fit is simply read again from price_bars.
CREATE UNLOGGED TABLE IF NOT EXISTS derive_closes (
    symbol      text        NOT NULL,
    timeframe   text        NOT NULL CHECK (timeframe IN ('1d', '1h', '1wk', '1mo')),
    closes      bytea       NOT NULL,
    recent      bytea       NOT NULL DEFAULT '',
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, timeframe)
);
-- Packed doubles do not compress: store them out of line as they are, without a compression attempt.
ALTER TABLE derive_closes ALTER COLUMN closes SET STORAGE EXTERNAL;
