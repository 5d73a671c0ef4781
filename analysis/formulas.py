"""Scores relative to the baseline, element-wise on numbers or pandas Series.

Degenerate denominators (a perfect or zero baseline, no gap between conditions) give NaN, an
empty cell in tables and figures, never inf or a silent zero.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

def _f(x):
    return x.astype("float64") if isinstance(x, pd.Series) else np.asarray(x, dtype="float64")


def _clean(x):
    out = np.where(np.isfinite(x), x, np.nan)
    return out if out.ndim else float(out)


def raw_diff(v, b):
    """v - b: the change from the baseline in the metric's own unit."""
    with np.errstate(all="ignore"):
        return _keep_index(v, _clean(_f(v) - _f(b)))


def fold_change(v, b):
    """v / b: how many times the baseline's value (for errors: >1 means worse)."""
    with np.errstate(all="ignore"):
        b = _f(b)
        return _keep_index(v, _clean(np.where(b == 0, np.nan, _f(v) / b)))


def score_toward_perfect(v, b, higher_is_better):
    """Share of the baseline's distance to perfect that was closed: 0 = baseline, 1 = perfect.

    accuracy: (v - b) / (1 - b); error: (b - v) / b. Negative means worse than the baseline.
    """
    like, v, b, hib = v, _f(v), _f(b), np.asarray(higher_is_better, dtype=bool)
    with np.errstate(all="ignore"):
        acc = np.where(b == 1, np.nan, (v - b) / (1 - b))
        err = np.where(b == 0, np.nan, (b - v) / b)
        return _keep_index(like, _clean(np.where(hib, acc, err)))


def score_gap_closing(v, bo, bi, higher_is_better):
    """Share of the baseline's gap between OOD (bo) and standard data (bi) that v closes.

    accuracy: (v - bo) / (bi - bo); error: log(bo / v) / log(bo / bi).
    0 = no better than the baseline on OOD, 1 = as good as the baseline on standard data.
    """
    like, v, bo, bi = v, _f(v), _f(bo), _f(bi)
    hib = np.asarray(higher_is_better, dtype=bool)
    with np.errstate(all="ignore"):
        acc = np.where(bi == bo, np.nan, (v - bo) / (bi - bo))
        positive = (v > 0) & (bo > 0) & (bi > 0)
        denom = np.log(np.where(positive, bo / bi, np.nan))
        err = np.where(positive & (denom != 0), np.log(np.where(positive, bo / v, np.nan)) / denom, np.nan)
        return _keep_index(like, _clean(np.where(hib, acc, err)))


def gap_reversed(bo, bi, higher_is_better):
    """True where the baseline is better out of distribution (bo) than on standard data (bi): the
    gap-closing score's denominator has the wrong sign, so the score would read backwards."""
    bo, bi, hib = _f(bo), _f(bi), np.asarray(higher_is_better, dtype=bool)
    return np.where(hib, bo > bi, bo < bi)


def clip_score(x, low: float, high: float):
    """A per-seed score clipped to [low, high] (rules.yaml scores.clip) before the seed mean; NaN stays."""
    return _keep_index(x, np.clip(_f(x), low, high))


def clip_unit(x):
    """Clip scores to [0, 1] for figures that say so; NaN stays NaN."""
    return np.clip(x, 0.0, 1.0)


def _keep_index(like, values):
    if isinstance(like, pd.Series):
        return pd.Series(values, index=like.index)
    return values
