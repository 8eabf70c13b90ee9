-- Return and risk statistics per symbol and window, and comparisons of configured pairs (issue 12
-- point 2; definitions in lib/etl/derive/stats.hpp and the README, "Derived data"). Written by every
-- derive of daily bars for the symbols it derived; a row is replaced as a whole. `period` is the window
-- (7D 30D 90D YTD 1Y 3Y 5Y); `returns` the number of daily returns it holds. NULL: not computable
-- (too few returns, no deviation, no benchmark).
CREATE TABLE IF NOT EXISTS asset_stats (
    symbol           text             NOT NULL,
    period           text             NOT NULL CHECK (period IN ('7D', '30D', '90D', 'YTD', '1Y', '3Y', '5Y')),
    as_of            date             NOT NULL,
    base_date        date             NOT NULL,
    returns          integer          NOT NULL,
    roi              double precision NOT NULL,
    volatility       double precision,
    sharpe           double precision,
    sortino          double precision,
    max_drawdown     double precision NOT NULL,
    drawdown_peak    date,
    drawdown_trough  date,
    beta             double precision,
    benchmark        text,
    risk_free_rate   double precision NOT NULL,
    computed_at      timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, period)
);

CREATE TABLE IF NOT EXISTS asset_comparisons (
    symbol_a      text             NOT NULL,
    symbol_b      text             NOT NULL,
    period        text             NOT NULL CHECK (period IN ('7D', '30D', '90D', 'YTD', '1Y', '3Y', '5Y')),
    as_of         date             NOT NULL,
    price_ratio   double precision NOT NULL,
    volume_ratio  double precision,
    roi_spread    double precision NOT NULL,
    correlation   double precision,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol_a, symbol_b, period)
);
