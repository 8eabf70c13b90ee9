-- Indicators, one row per bar (issue 12): the long table of 0007 held a row per bar and indicator name, and
-- its primary key took most of a derive's time (21 index entries per bar). indicator_bars holds a bar's
-- values side by side, NULL while an indicator is still warming up (a bar where none is warm has no row);
-- its columns are lib/etl/store/schema.hpp's k_indicator_columns. `indicators` stays, as a view with the
-- same columns as the table it replaces: (symbol, timeframe, ts, name, value), a row per non-NULL value.
-- Rows already derived move over.
CREATE TABLE IF NOT EXISTS indicator_bars (
    symbol    text        NOT NULL,
    timeframe text        NOT NULL CHECK (timeframe IN ('1d', '1h', '1wk', '1mo')),
    ts        timestamptz NOT NULL,
    rsi_14          double precision,
    rsi_9           double precision,
    sma_10          double precision,
    sma_20          double precision,
    sma_50          double precision,
    sma_200         double precision,
    ema_10          double precision,
    ema_20          double precision,
    ema_50          double precision,
    macd_line       double precision,
    macd_signal     double precision,
    macd_hist       double precision,
    bb_upper_20_2   double precision,
    bb_middle_20_2  double precision,
    bb_lower_20_2   double precision,
    ema_12          double precision,
    ema_26          double precision,
    rsi_14_avg_gain double precision,
    rsi_14_avg_loss double precision,
    rsi_9_avg_gain  double precision,
    rsi_9_avg_loss  double precision,
    PRIMARY KEY (symbol, timeframe, ts)
);

INSERT INTO indicator_bars (symbol, timeframe, ts, rsi_14, rsi_9, sma_10, sma_20, sma_50, sma_200, ema_10, ema_20, ema_50, macd_line, macd_signal, macd_hist, bb_upper_20_2, bb_middle_20_2, bb_lower_20_2, ema_12, ema_26, rsi_14_avg_gain, rsi_14_avg_loss, rsi_9_avg_gain, rsi_9_avg_loss)
SELECT symbol, timeframe, ts,
       max(value) FILTER (WHERE name = 'rsi_14'),
       max(value) FILTER (WHERE name = 'rsi_9'),
       max(value) FILTER (WHERE name = 'sma_10'),
       max(value) FILTER (WHERE name = 'sma_20'),
       max(value) FILTER (WHERE name = 'sma_50'),
       max(value) FILTER (WHERE name = 'sma_200'),
       max(value) FILTER (WHERE name = 'ema_10'),
       max(value) FILTER (WHERE name = 'ema_20'),
       max(value) FILTER (WHERE name = 'ema_50'),
       max(value) FILTER (WHERE name = 'macd_line'),
       max(value) FILTER (WHERE name = 'macd_signal'),
       max(value) FILTER (WHERE name = 'macd_hist'),
       max(value) FILTER (WHERE name = 'bb_upper_20_2'),
       max(value) FILTER (WHERE name = 'bb_middle_20_2'),
       max(value) FILTER (WHERE name = 'bb_lower_20_2'),
       max(value) FILTER (WHERE name = 'ema_12'),
       max(value) FILTER (WHERE name = 'ema_26'),
       max(value) FILTER (WHERE name = 'rsi_14_avg_gain'),
       max(value) FILTER (WHERE name = 'rsi_14_avg_loss'),
       max(value) FILTER (WHERE name = 'rsi_9_avg_gain'),
       max(value) FILTER (WHERE name = 'rsi_9_avg_loss')
FROM indicators
GROUP BY symbol, timeframe, ts
ON CONFLICT DO NOTHING;

DROP TABLE indicators;

CREATE VIEW indicators AS
SELECT b.symbol, b.timeframe, b.ts, v.name, v.value
FROM indicator_bars b
CROSS JOIN LATERAL (VALUES
    ('rsi_14', b.rsi_14),
    ('rsi_9', b.rsi_9),
    ('sma_10', b.sma_10),
    ('sma_20', b.sma_20),
    ('sma_50', b.sma_50),
    ('sma_200', b.sma_200),
    ('ema_10', b.ema_10),
    ('ema_20', b.ema_20),
    ('ema_50', b.ema_50),
    ('macd_line', b.macd_line),
    ('macd_signal', b.macd_signal),
    ('macd_hist', b.macd_hist),
    ('bb_upper_20_2', b.bb_upper_20_2),
    ('bb_middle_20_2', b.bb_middle_20_2),
    ('bb_lower_20_2', b.bb_lower_20_2),
    ('ema_12', b.ema_12),
    ('ema_26', b.ema_26),
    ('rsi_14_avg_gain', b.rsi_14_avg_gain),
    ('rsi_14_avg_loss', b.rsi_14_avg_loss),
    ('rsi_9_avg_gain', b.rsi_9_avg_gain),
    ('rsi_9_avg_loss', b.rsi_9_avg_loss)
) AS v (name, value)
WHERE v.value IS NOT NULL;
