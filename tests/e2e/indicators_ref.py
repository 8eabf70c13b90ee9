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


# ---- statistics (lib/etl/derive/stats.hpp), in pandas ----

WINDOWS = ("7D", "30D", "90D", "YTD", "1Y", "3Y", "5Y")


def _years_back(d, n):
    import datetime
    try:
        return d.replace(year=d.year - n)
    except ValueError:                       # February 29th
        return datetime.date(d.year - n, 2, 28)


def window_start(w, as_of):
    import datetime
    if w in ("7D", "30D", "90D"):
        return as_of - datetime.timedelta(days=int(w[:-1]))
    if w == "YTD":
        return datetime.date(as_of.year - 1, 12, 31)
    return _years_back(as_of, int(w[0]))


def _window(close: pd.Series, w, as_of):
    """The window's bars (base: the newest bar on or before the start) up to as_of, or None."""
    close = close[close.index <= as_of]
    prior = close[close.index <= window_start(w, as_of)]
    if prior.empty or len(close[close.index > prior.index[-1]]) == 0:
        return None
    return close[close.index >= prior.index[-1]]


def stats(close: pd.Series, bench: pd.Series | None, rf: float, crypto: bool) -> dict:
    """{window: {column: value}} for close (a Series of closes indexed by date, in order)."""
    n = 365.0 if crypto else 252.0
    as_of = close.index[-1]
    out = {}
    for w in WINDOWS:
        bars = _window(close, w, as_of)
        if bars is None:
            continue
        r = np.log(bars).diff().dropna()
        row = {"as_of": as_of, "base_date": bars.index[0], "returns": len(r), "roi": bars.iloc[-1] / bars.iloc[0] - 1,
               "volatility": None, "sharpe": None, "sortino": None, "beta": None,
               "drawdown_peak": None, "drawdown_trough": None}
        if len(r) >= 2:
            vol = r.std(ddof=1) * np.sqrt(n)
            excess = r.mean() * n - rf
            row["volatility"] = vol
            if vol > 0:
                row["sharpe"] = excess / vol
            dd = np.sqrt(((r - rf / n).clip(upper=0) ** 2).mean()) * np.sqrt(n)
            if dd > 0:
                row["sortino"] = excess / dd
        fall = 1 - bars / bars.cummax()
        row["max_drawdown"] = fall.max()
        if fall.max() > 0:
            trough = fall.idxmax()
            row["drawdown_trough"] = trough
            row["drawdown_peak"] = bars[:trough].idxmax()
        if bench is not None and not bench.empty:
            both = pd.concat([bars.rename("a"), bench.rename("b")], axis=1, join="inner")
            rr = np.log(both).diff().dropna()
            if len(rr) >= 2 and rr["b"].var() > 0:
                row["beta"] = rr["a"].cov(rr["b"]) / rr["b"].var()
        out[w] = row
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """{window: {column: value}} for two frames of close and volume indexed by date."""
    as_of = min(a.index[-1], b.index[-1])
    out = {}
    for w in WINDOWS:
        wa, wb = _window(a["close"], w, as_of), _window(b["close"], w, as_of)
        if wa is None or wb is None:
            continue
        va = a["volume"][wa.index[1:]].sum(min_count=1) if a["volume"][wa.index[1:]].notna().all() else None
        vb = b["volume"][wb.index[1:]].sum(min_count=1) if b["volume"][wb.index[1:]].notna().all() else None
        row = {"as_of": as_of, "price_ratio": wa.iloc[-1] / wb.iloc[-1],
               "roi_spread": wa.iloc[-1] / wa.iloc[0] - wb.iloc[-1] / wb.iloc[0],
               "volume_ratio": va / vb if va is not None and vb else None, "correlation": None}
        both = pd.concat([wa.rename("a"), wb.rename("b")], axis=1, join="inner")
        rr = np.log(both).diff().dropna()
        if len(rr) >= 2 and rr["a"].var() > 0 and rr["b"].var() > 0:
            row["correlation"] = rr["a"].corr(rr["b"])
        out[w] = row
    return out
