"""A long line is drawn from the points its pixel columns show (plots/thinning.py): each bucket's
first, last, lowest and highest point and every break, and the rasterized line is the same."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from plots.thinning import PER_COLUMN, drawn_points  # noqa: E402


def _noisy(n: int, seed: int = 0, nan_at: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=float)
    y = np.exp(-x / n) + rng.normal(0, 0.2, n)
    y[list(nan_at)] = np.nan
    return x, y


@pytest.mark.parametrize("n, columns", [(10, 5), (400, 100), (1, 3), (50, 0)])
def test_a_line_of_few_points_a_column_is_drawn_whole(n, columns):
    x, y = _noisy(n)
    assert list(drawn_points(x, y, columns)) == list(range(n))


@pytest.mark.parametrize("nan_at", [(), (7, 8, 3001), (4999,)])
@pytest.mark.parametrize("log", [False, True])
def test_each_bucket_keeps_its_first_last_lowest_highest_and_every_break(nan_at, log):
    x, y = _noisy(5000, nan_at=nan_at)
    shown = x if not log else np.log10(x)
    columns = 240
    kept = drawn_points(shown, y, columns)
    assert np.all(np.diff(kept) > 0) and kept[0] == 0 and kept[-1] == 4999
    assert len(kept) < len(x) / 2
    assert set(nan_at) <= set(kept.tolist())
    bucket = np.minimum(((shown - shown[0]) * columns / (shown[-1] - shown[0])).astype(int), columns - 1)
    mask = np.zeros(len(x), dtype=bool)
    mask[kept] = True
    for b in np.unique(bucket):
        inside = np.flatnonzero(bucket == b)
        assert mask[inside[0]] and mask[inside[-1]]
        finite = inside[np.isfinite(y[inside])]
        if finite.size:
            assert np.nanmax(np.where(mask[finite], y[finite], np.nan)) == y[finite].max()
            assert np.nanmin(np.where(mask[finite], y[finite], np.nan)) == y[finite].min()
        assert mask[inside].sum() <= PER_COLUMN + np.isnan(y[inside]).sum()


def _raster(x: np.ndarray, y: np.ndarray, log: bool) -> np.ndarray:
    fig = plt.figure(figsize=(2.4, 1.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    if log:
        ax.set_xscale("log")
    ax.plot(x, y, lw=0.8, color="k")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(-1, 2)
    buf = io.BytesIO()
    fig.savefig(buf, format="rgba", dpi=100)
    plt.close(fig)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8).astype(float)


@pytest.mark.parametrize("log", [False, True])
def test_the_thinned_line_rasterizes_as_the_whole_one(log):
    """240 pixel columns: the picture of 5,000 noisy points and of the few kept differ by antialiasing
    at the buckets' edges, a tenth or less of what as many points taken every k-th lose."""
    x, y = _noisy(5000, seed=3)
    kept = drawn_points(np.log10(x) if log else x, y, 240)
    assert len(kept) < 5000 / (4 if log else 2)
    every = np.arange(0, 5000, 5000 // len(kept))
    whole = _raster(x, y, log)
    thin, naive = np.abs(whole - _raster(x[kept], y[kept], log)), np.abs(whole - _raster(x[every], y[every], log))
    assert thin.mean() < 2.0 and thin.mean() < naive.mean() / 10  # of 255 levels a channel
    assert (thin > 64).mean() < 0.01 and (thin > 64).mean() < (naive > 64).mean() / 10
