"""A long line drawn from the points its panel's pixel columns can show.

A training log of 5,000 steps in a panel 240 pixels wide puts ~20 points in each pixel column; the
drawn line is the same from each column's first, last, lowest and highest point (M4 aggregation,
Jugel et al., VLDB 2014), a tenth of the points on a log step axis. Drawing is where this belongs:
the table and the views keep every number; only what goes to the rasterizer is thinned.
"""
from __future__ import annotations

import numpy as np

PER_COLUMN = 4  # first, last, lowest, highest


def drawn_points(x: np.ndarray, y: np.ndarray, columns: int) -> np.ndarray:
    """Ascending indices of the points of a line (`x` ascending, in a display scale: pixels, or any
    linear map of them such as a log axis's log10 of the steps) that draw it at `columns` equal buckets
    across its x range: each bucket's first, last, lowest and highest finite point, and every
    non-finite value (a break in the line, kept where it is). All points when there are no more than
    `PER_COLUMN` a bucket on average."""
    n = len(x)
    if n <= PER_COLUMN * columns or columns < 1:
        return np.arange(n)
    span = float(x[-1] - x[0])
    if not np.isfinite(span) or span <= 0:
        return np.arange(n)
    bucket = np.minimum(((x - x[0]) * (columns / span)).astype(np.int64), columns - 1)
    keep = np.zeros(n, dtype=bool)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(bucket[1:], bucket[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    keep[starts] = True
    keep[starts[1:] - 1] = True
    keep[-1] = True
    finite = np.isfinite(y)
    keep[~finite] = True
    at = np.flatnonzero(finite)
    if at.size:
        order = at[np.lexsort((y[at], bucket[at]))]  # by bucket, then value: each bucket's lowest first
        b = bucket[order]
        edge = np.flatnonzero(b[1:] != b[:-1])
        keep[order[np.r_[0, edge + 1]]] = True  # lowest
        keep[order[np.r_[edge, len(order) - 1]]] = True  # highest
    return np.flatnonzero(keep)
