-- Technical indicators derived from price_bars (issue 12, `etl derive`): one row per symbol, timeframe,
-- bar and indicator name (rsi_14, sma_200, macd_line, bb_upper_20_2, ...; lib/etl/derive/indicators.hpp
-- lists them and states each convention). Values are derived, so double precision, not numeric. A bar's
-- row exists only once the indicator's warm-up is complete. Rewritten from a bar on by each derive (one
-- transaction per symbol and timeframe), so it is an ordinary table on TimescaleDB too: no compressed
-- chunk has to be rewritten.
CREATE TABLE IF NOT EXISTS indicators (
    symbol     text             NOT NULL,
    timeframe  text             NOT NULL CHECK (timeframe IN ('1d', '1h', '1wk', '1mo')),
    ts         timestamptz      NOT NULL,
    name       text             NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (symbol, timeframe, ts, name)
);
