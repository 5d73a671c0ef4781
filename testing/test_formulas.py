"""Every formula against hand-computed cases, including the degenerate denominators."""
import math

import numpy as np
import pandas as pd
import pytest

from analysis.formulas import (clip_score, clip_unit, fold_change, gap_reversed, raw_diff, score_gap_closing,
                               score_toward_perfect)

nan = math.nan


@pytest.mark.parametrize("v, b, expected", [(3.0, 2.0, 1.0), (0.8, 0.9, -0.1), (5.0, nan, nan)])
def test_raw_diff(v, b, expected):
    assert raw_diff(v, b) == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize("v, b, expected", [(3.0, 2.0, 1.5), (1.0, 4.0, 0.25), (1.0, 0.0, nan), (0.0, 0.0, nan)])
def test_fold_change(v, b, expected):
    assert fold_change(v, b) == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize("v, b, hib, expected", [
    (0.9, 0.8, True, 0.5),            # accuracy: (0.9 - 0.8) / (1 - 0.8)
    (0.6, 0.8, True, -1.0),           # worse than the baseline: negative, unclipped
    (1.0, 0.5, True, 1.0),            # perfect
    (0.7, 1.0, True, nan),            # perfect baseline: no room, empty
    (1.0, 4.0, False, 0.75),          # error: (4 - 1) / 4
    (8.0, 4.0, False, -1.0),          # error doubled
    (0.0, 4.0, False, 1.0),           # perfect error
    (1.0, 0.0, False, nan),           # zero-error baseline
])
def test_score_toward_perfect(v, b, hib, expected):
    assert score_toward_perfect(v, b, hib) == pytest.approx(expected, nan_ok=True)


@pytest.mark.parametrize("v, bo, bi, hib, expected", [
    (0.7, 0.5, 0.9, True, 0.5),                     # (0.7 - 0.5) / (0.9 - 0.5)
    (0.5, 0.5, 0.9, True, 0.0),                     # no better than the baseline on OOD
    (0.95, 0.5, 0.9, True, 1.125),                  # better than standard: > 1
    (0.7, 0.8, 0.8, True, nan),                     # no gap
    (10.0, 100.0, 1.0, False, 0.5),                 # log(100/10) / log(100/1)
    (1.0, 100.0, 1.0, False, 1.0),
    (200.0, 100.0, 1.0, False, math.log(0.5) / math.log(100)),  # worse: negative
    (5.0, 3.0, 3.0, False, nan),                    # log(bo/bi) = 0
    (0.0, 100.0, 1.0, False, nan),                  # log of 0 is undefined: empty, not inf
    (5.0, -1.0, 1.0, False, nan),
])
def test_score_gap_closing(v, bo, bi, hib, expected):
    assert score_gap_closing(v, bo, bi, hib) == pytest.approx(expected, nan_ok=True)


def test_series_keep_their_index_and_mix_kinds():
    v = pd.Series([0.9, 1.0], index=["a", "b"])
    b = pd.Series([0.8, 4.0], index=["a", "b"])
    out = score_toward_perfect(v, b, np.array([True, False]))
    assert list(out.index) == ["a", "b"]
    assert out.tolist() == pytest.approx([0.5, 0.75])


def test_no_inf_ever():
    v = np.array([1.0, 0.0, 2.0])
    b = np.array([0.0, 0.0, 1.0])
    for out in (fold_change(v, b), score_toward_perfect(v, b, False), score_gap_closing(v, b, b, False)):
        assert not np.isinf(out).any()


def test_clip_unit_keeps_nan():
    out = clip_unit(np.array([-0.5, 0.5, 1.5, nan]))
    assert out[:3].tolist() == [0.0, 0.5, 1.0] and math.isnan(out[3])


@pytest.mark.parametrize("bo, bi, hib, expected", [
    (0.6, 0.9, True, False),   # accuracy: worse out of distribution, the usual gap
    (0.9, 0.6, True, True),    # accuracy: better out of distribution: reversed
    (10.0, 2.0, False, False),  # error: larger out of distribution, the usual gap
    (2.0, 10.0, False, True),   # error: smaller out of distribution: reversed
    (0.7, 0.7, True, False),   # no gap: not reversed (the score is n/a for another reason)
    (nan, 0.7, True, False),
])
def test_gap_reversed(bo, bi, hib, expected):
    assert bool(gap_reversed(bo, bi, hib)) is expected


def test_clip_score_clips_each_value_keeps_nan_and_the_index():
    s = pd.Series([-0.3, 0.4, 2.0, nan], index=[5, 6, 7, 8])
    out = clip_score(s, 0.0, 1.5)
    assert list(out.index) == [5, 6, 7, 8]
    assert out.tolist()[:3] == [0.0, 0.4, 1.5] and math.isnan(out.iloc[3])
