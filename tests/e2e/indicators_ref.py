"""The indicators of lib/etl/derive/indicators.hpp, written again in pandas (python3-pandas) from the
definitions alone, as the reference test_derive.py compares with (and the derive bench times):
SMA = rolling mean; EMA seeded by the SMA of its first period, then ewm(adjust=False); RSI with Wilder's
smoothing (seeded by the mean of the first N changes); MACD 12/26/9 (the signal is the EMA 9 of the line,
seeded likewise); Bollinger 20/2 with the population standard deviation (ddof=0)."""
import sys

try:
    import numpy as np
    import pandas as pd
except ImportError:
    # Debian's python3-pandas lives in Debian's dist-packages, which a python3 of its own (pyenv, a venv)
    # does not search: look there last.
    sys.path.append("/usr/lib/python3/dist-packages")
    import numpy as np
    import pandas as pd


def _seeded_ewm(values: pd.Series, n: int, alpha: float) -> pd.Series:
    """The EMA-style recursion y = alpha*x + (1-alpha)*y_prev over the non-missing values, whose first
    output (at the n-th value) is the mean of the first n values; NaN before that."""
    v = values.dropna()
    if len(v) < n:
        return pd.Series(np.nan, index=values.index)
    seeded = v.iloc[n - 1:].copy()
    seeded.iloc[0] = v.iloc[:n].mean()
    return seeded.ewm(alpha=alpha, adjust=False).mean().reindex(values.index)


def ema(values: pd.Series, n: int) -> pd.Series:
    return _seeded_ewm(values, n, 2.0 / (n + 1))


def wilder(values: pd.Series, n: int) -> pd.Series:
    return _seeded_ewm(values, n, 1.0 / n)


def indicators(close: pd.Series) -> dict[str, pd.Series]:
    """Every indicator of a series of closes (indexed by bar), NaN where its warm-up is not complete."""
    out = {}
    for n in (10, 20, 50, 200):
        out[f"sma_{n}"] = close.rolling(n).mean()
    for n in (10, 20, 50, 12, 26):
        out[f"ema_{n}"] = ema(close, n)
    change = close.diff()
    for n in (14, 9):
        gain = wilder(change.clip(lower=0), n)
        loss = wilder((-change).clip(lower=0), n)
        rsi = 100 - 100 / (1 + gain / loss)
        rsi = rsi.where(loss != 0, np.where(gain == 0, 50.0, 100.0))
        out[f"rsi_{n}"] = rsi.where(gain.notna())
        out[f"rsi_{n}_avg_gain"] = gain
        out[f"rsi_{n}_avg_loss"] = loss
    line = out["ema_12"] - out["ema_26"]
    signal = ema(line, 9)
    out["macd_line"] = line
    out["macd_signal"] = signal
    out["macd_hist"] = line - signal
    mid = close.rolling(20).mean()
    sd = close.rolling(20).std(ddof=0)
    out["bb_middle_20_2"] = mid
    out["bb_upper_20_2"] = mid + 2 * sd
    out["bb_lower_20_2"] = mid - 2 * sd
    return out
