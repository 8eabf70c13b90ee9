-- Indicators, one row per bar (see sql/postgres/0010): indicator_bars replaces the long indicators table
-- of 0004, which becomes a view with its columns. Rows already derived move over.
CREATE TABLE IF NOT EXISTS indicator_bars (
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL CHECK (timeframe IN ('1d', '1h', '1wk', '1mo')),
    ts        TEXT NOT NULL,
    rsi_14          REAL,
    rsi_9           REAL,
    sma_10          REAL,
    sma_20          REAL,
    sma_50          REAL,
    sma_200         REAL,
    ema_10          REAL,
    ema_20          REAL,
    ema_50          REAL,
    macd_line       REAL,
    macd_signal     REAL,
    macd_hist       REAL,
    bb_upper_20_2   REAL,
    bb_middle_20_2  REAL,
    bb_lower_20_2   REAL,
    ema_12          REAL,
    ema_26          REAL,
    rsi_14_avg_gain REAL,
    rsi_14_avg_loss REAL,
    rsi_9_avg_gain  REAL,
    rsi_9_avg_loss  REAL,
    PRIMARY KEY (symbol, timeframe, ts)
) WITHOUT ROWID;

INSERT OR IGNORE INTO indicator_bars (symbol, timeframe, ts, rsi_14, rsi_9, sma_10, sma_20, sma_50, sma_200, ema_10, ema_20, ema_50, macd_line, macd_signal, macd_hist, bb_upper_20_2, bb_middle_20_2, bb_lower_20_2, ema_12, ema_26, rsi_14_avg_gain, rsi_14_avg_loss, rsi_9_avg_gain, rsi_9_avg_loss)
SELECT symbol, timeframe, ts,
       max(CASE WHEN name = 'rsi_14' THEN value END),
       max(CASE WHEN name = 'rsi_9' THEN value END),
       max(CASE WHEN name = 'sma_10' THEN value END),
       max(CASE WHEN name = 'sma_20' THEN value END),
       max(CASE WHEN name = 'sma_50' THEN value END),
       max(CASE WHEN name = 'sma_200' THEN value END),
       max(CASE WHEN name = 'ema_10' THEN value END),
       max(CASE WHEN name = 'ema_20' THEN value END),
       max(CASE WHEN name = 'ema_50' THEN value END),
       max(CASE WHEN name = 'macd_line' THEN value END),
       max(CASE WHEN name = 'macd_signal' THEN value END),
       max(CASE WHEN name = 'macd_hist' THEN value END),
       max(CASE WHEN name = 'bb_upper_20_2' THEN value END),
       max(CASE WHEN name = 'bb_middle_20_2' THEN value END),
       max(CASE WHEN name = 'bb_lower_20_2' THEN value END),
       max(CASE WHEN name = 'ema_12' THEN value END),
       max(CASE WHEN name = 'ema_26' THEN value END),
       max(CASE WHEN name = 'rsi_14_avg_gain' THEN value END),
       max(CASE WHEN name = 'rsi_14_avg_loss' THEN value END),
       max(CASE WHEN name = 'rsi_9_avg_gain' THEN value END),
       max(CASE WHEN name = 'rsi_9_avg_loss' THEN value END)
FROM indicators
GROUP BY symbol, timeframe, ts;

DROP TABLE indicators;

CREATE VIEW indicators (symbol, timeframe, ts, name, value) AS
SELECT symbol, timeframe, ts, 'rsi_14', rsi_14 FROM indicator_bars WHERE rsi_14 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'rsi_9', rsi_9 FROM indicator_bars WHERE rsi_9 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'sma_10', sma_10 FROM indicator_bars WHERE sma_10 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'sma_20', sma_20 FROM indicator_bars WHERE sma_20 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'sma_50', sma_50 FROM indicator_bars WHERE sma_50 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'sma_200', sma_200 FROM indicator_bars WHERE sma_200 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'ema_10', ema_10 FROM indicator_bars WHERE ema_10 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'ema_20', ema_20 FROM indicator_bars WHERE ema_20 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'ema_50', ema_50 FROM indicator_bars WHERE ema_50 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'macd_line', macd_line FROM indicator_bars WHERE macd_line IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'macd_signal', macd_signal FROM indicator_bars WHERE macd_signal IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'macd_hist', macd_hist FROM indicator_bars WHERE macd_hist IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'bb_upper_20_2', bb_upper_20_2 FROM indicator_bars WHERE bb_upper_20_2 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'bb_middle_20_2', bb_middle_20_2 FROM indicator_bars WHERE bb_middle_20_2 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'bb_lower_20_2', bb_lower_20_2 FROM indicator_bars WHERE bb_lower_20_2 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'ema_12', ema_12 FROM indicator_bars WHERE ema_12 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'ema_26', ema_26 FROM indicator_bars WHERE ema_26 IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'rsi_14_avg_gain', rsi_14_avg_gain FROM indicator_bars WHERE rsi_14_avg_gain IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'rsi_14_avg_loss', rsi_14_avg_loss FROM indicator_bars WHERE rsi_14_avg_loss IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'rsi_9_avg_gain', rsi_9_avg_gain FROM indicator_bars WHERE rsi_9_avg_gain IS NOT NULL
UNION ALL
SELECT symbol, timeframe, ts, 'rsi_9_avg_loss', rsi_9_avg_loss FROM indicator_bars WHERE rsi_9_avg_loss IS NOT NULL;
