"""The tidy table's repeated strings (experiment, condition, task, metric, statistic, source) held as
categorical codes: a 100,000-file sweep repeats a few thousand names over 5.6 million rows, which as
strings are a pointer a cell and are hashed, compared and pickled one by one. As categories they are
one small integer a cell: the table takes a tenth of the memory, and grouping, hashing and shipping
it to the workers is several times faster. Categories are sorted, so ordering by a label column is
ordering by its text, as before."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

LABELS = ("experiment", "condition", "task", "metric", "statistic", "source")


def categories(values: Iterable[str]) -> pd.Index:
    """The sorted distinct values, as categories."""
    return pd.Index(sorted(set(values)), dtype="str")


def categorical(frame: pd.DataFrame, names: Iterable[str] = LABELS) -> pd.DataFrame:
    """The frame with its label columns (`names`) as categoricals of sorted categories (those
    already categorical are left as they are)."""
    todo = {c: pd.CategoricalDtype(categories(frame[c].unique())) for c in names
            if c in frame.columns and not isinstance(frame[c].dtype, pd.CategoricalDtype)}
    return frame.astype(todo) if todo else frame


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its categorical columns as plain strings: for the views derived from the
    table, whose mapping and ordering of labels assume strings (a categorical's `.map` keeps its
    categories' order, not the mapped values')."""
    cats = [c for c, t in frame.dtypes.items() if isinstance(t, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(cats, "str")) if cats else frame
