"""The fast CSV text (utils/csv_text.py) is byte for byte what `to_csv(index=False)` writes: over the
column kinds it formats itself, the values the csv module must quote, missing values and numbers
numpy writes in exponent form, and over the kinds it hands back to `to_csv`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from readers_helpers import real
from utils.csv_text import to_csv_text
from utils.labels import categorical
from utils.loading import load

LABELS = ["pt1", 'a,"quoted" one', "line\nbreak", "", "cr\r\nlf", " spaced ", "tab\there", "naïve ✓", "'single'"]
NUMBERS = [0.1, np.nan, 1e-05, 1e20, -0.0, 123456789.123456789, np.inf, -np.inf, 5e-324, 2.0]


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "experiment": pd.array([LABELS[i % len(LABELS)] for i in range(n)], dtype="str"),
        "step": rng.integers(-10**15, 10**15, n),
        "value": [NUMBERS[i % len(NUMBERS)] for i in range(n)],
        "wall_time": rng.uniform(1e9, 2e9, n),
        "trained": [bool(i % 3) for i in range(n)],
    })


def _doubles(n: int) -> np.ndarray:
    bits = np.random.default_rng(1).integers(0, 2**64, n, dtype=np.uint64, endpoint=False).view(np.float64)
    return np.where(np.isfinite(bits), bits, 1.5)


CASES = {
    "strings": _frame(40),
    "categorical labels": categorical(_frame(40), ["experiment"]),
    "a missing label": _frame(40).assign(experiment=lambda f: f["experiment"].where(f.index % 7 != 0)),
    "a missing categorical label": categorical(
        _frame(40).assign(experiment=lambda f: f["experiment"].where(f.index % 7 != 0)), ["experiment"]),
    "no rows": _frame(40).iloc[:0],
    # a block of a big table: a few rows using few of the column's categories (only those are quoted)
    "a few rows of many categories": categorical(_frame(40), ["experiment"]).iloc[3:6],
    "an unused category that is not a string": _frame(3).assign(
        experiment=pd.Categorical(["a", 'b,"c"', "a"], categories=["a", 'b,"c"', 7])),
    # doubles of every exponent (random bit patterns): Python's repr is numpy's shortest repr for each
    "doubles of every exponent": _frame(5000).assign(value=lambda f: _doubles(len(f))),
    # steps repeat: each distinct number is turned into text once (most distinct: one by one)
    "repeated integers": _frame(60).assign(step=lambda f: (f.index % 7 - 3) * 10**15),
    # handed to to_csv: one column (an empty cell alone is quoted), nullable ints, mixed objects, dates
    "one column": _frame(5)[["experiment"]],
    "nullable integers": _frame(5).astype({"step": "Int64"}),
    "mixed objects": _frame(5).assign(experiment=[1, "a", None, 2.5, "b"]),
    "dates": _frame(5).assign(when=pd.date_range("2024-01-01", periods=5)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_text_is_to_csv_byte_for_byte(name: str) -> None:
    frame = CASES[name]
    assert to_csv_text(frame) == frame.to_csv(index=False)


def test_every_record_of_the_real_tree_is_written_as_to_csv_writes_it(config) -> None:
    """The loaded table of real files of every format (categorical labels, wall times where a file
    has them, values of every magnitude) gives the same metrics.csv text both ways."""
    frame = load(real("."), config).frame
    assert len(frame) > 10_000 and isinstance(frame["experiment"].dtype, pd.CategoricalDtype)
    assert to_csv_text(frame) == frame.to_csv(index=False)
