"""The tidy table's repeated strings (experiment, condition, task, metric, statistic, source) held as
categorical codes: a 100,000-file sweep repeats a few thousand names over 5.6 million rows, which as
strings are a pointer a cell and are hashed, compared and pickled one by one. As categories they are
one small integer a cell: the table takes a tenth of the memory, and grouping, hashing and shipping
it to the workers is several times faster. Categories are sorted, so ordering by a label column is
ordering by its text, as before."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

LABELS = ("experiment", "condition", "task", "metric", "statistic", "source")


def categories(values: Iterable[str]) -> pd.Index | None:
    """The sorted distinct values, as categories (a missing value is none of them); None when some
    value is not a string (a reader's odd value: its column stays as it is)."""
    distinct = {v for v in values if not (v is None or v != v)}  # v != v: NaN
    if not all(type(v) is str for v in distinct):
        return None
    return pd.Index(sorted(distinct), dtype="str")


def kept_categories(values: list) -> pd.Index:
    """Categories as `categories` gave them and a file kept them (sorted, distinct strings), taken as
    they are once checked: 0.01 s for a sweep's 101,500 sources instead of 0.1 s sorting them again.
    ValueError when they are not: the codes kept with them would name other labels."""
    if not all(type(v) is str for v in values) or not all(a < b for a, b in zip(values, values[1:])):
        raise ValueError("kept categories are not sorted distinct strings")
    return pd.Index(values, dtype="str")


def categorical(frame: pd.DataFrame, names: Iterable[str] = LABELS) -> pd.DataFrame:
    """The frame with its label columns (`names`) as categoricals of sorted categories (those
    already categorical, or holding a value that is not a string, are left as they are)."""
    todo = {}
    for c in names:
        if c in frame.columns and not isinstance(frame[c].dtype, pd.CategoricalDtype):
            cats = categories(frame[c].unique())
            if cats is not None:
                todo[c] = pd.CategoricalDtype(cats)
    return frame.astype(todo) if todo else frame


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its categorical columns as plain strings: for the views derived from the
    table, whose mapping and ordering of labels assume strings (a categorical's `.map` keeps its
    categories' order, not the mapped values')."""
    cats = [c for c, t in frame.dtypes.items() if isinstance(t, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(cats, "str")) if cats else frame


def codes_of(column: pd.Series) -> np.ndarray:
    """A categorical column's codes (-1: missing), read-only and without a copy: `.cat.codes` copies
    them into a new Series (5.6 million records: ~15 ms and 5-22 MB a column, each time)."""
    return column.array.codes


def codes(column: pd.Series) -> tuple[np.ndarray, list]:
    """A label column as integer codes (-1: missing) and the values they stand for: a categorical's
    own codes, a string column factorized on its plain object array (~3x faster than comparing its
    strings)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return codes_of(column), column.cat.categories.to_numpy(dtype=object).tolist()
    found, values = pd.factorize(column.to_numpy(dtype=object), use_na_sentinel=True)
    return found, list(values)


def used_codes(at: np.ndarray, n: int) -> np.ndarray:
    """Which of the codes 0..n-1 some row has (a code -1, missing, is none of them): one count over
    the rows, no copy of them, no hashing."""
    return np.bincount(at + 1, minlength=n + 1)[1:] > 0


def present(column: pd.Series) -> list:
    """The distinct values the column holds, missing ones left out: a categorical's categories
    that some row has, told by counting its codes (metrics.csv's 5.6 million rows: no copy of them
    without the missing ones, no hashing)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        cats = column.cat.categories
        return cats[used_codes(codes_of(column), len(cats))].tolist()
    return column.dropna().unique().tolist()


def per_value(column: pd.Series, fn: Callable[[Any], Any], missing: Any, dtype: Any = None) -> np.ndarray:
    """`fn` of each row's value, worked out once a distinct value (`codes`), `missing` for a missing
    one: a view of millions of rows repeats a few hundred labels."""
    at, values = codes(column)
    return np.array([fn(v) for v in values] + [missing], dtype=dtype)[at]


def run_starts(*columns: np.ndarray) -> np.ndarray:
    """True at each row where some of these (code) columns differs from the row before: the first
    row of each run of alike rows. A file's rows are adjacent in the table, so a pass over the run
    starts sees every (experiment, file) pair without a pass over every row."""
    starts = np.zeros(len(columns[0]), dtype=bool)
    starts[:1] = True
    for column in columns:
        starts[1:] |= column[1:] != column[:-1]
    return starts


def mapped(column: pd.Series, fn: Callable[[str], str]) -> pd.Series:
    """`fn` of each value of a label column, as strings; a categorical's categories that some row
    has are mapped once and the result is categorical again (its categories sorted, so its order is
    the strings', and only those of the values found)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        values = column.astype(str)
        return values.map({v: fn(v) for v in values.unique() if isinstance(v, str)})  # a missing value stays so
    at = codes_of(column)
    used = used_codes(at, len(column.cat.categories))
    out = [fn(str(c)) if u else None for c, u in zip(column.cat.categories.to_numpy(dtype=object), used)]
    cats = pd.Index(sorted({v for v in out if v is not None}), dtype="str")
    lookup = np.append(cats.get_indexer(out), -1)  # a missing value (code -1) stays missing
    return pd.Series(pd.Categorical.from_codes(lookup[at], dtype=pd.CategoricalDtype(cats)),
                     index=column.index, name=column.name)


def joined(rows: pd.DataFrame, table: pd.DataFrame, key: str) -> pd.DataFrame:
    """`rows.merge(table, on=key)` for a small `table` with one row a key (the experiments' table
    beside millions of curve rows), in the rows' order, index reset: each distinct key is looked up
    once, and the table's string columns come as categoricals of sorted categories (its other
    columns as they are). Rows whose key the table lacks are left out, as an inner merge does."""
    at, values = codes(rows[key])
    where = np.append(pd.Index(table[key]).get_indexer(pd.Index(values, dtype=object)), -1)[at]
    found = where >= 0
    out = (rows if found.all() else rows[found]).reset_index(drop=True)
    where = where[found]
    for name in table.columns:
        if name == key:
            continue
        column = table[name]
        text = column.dtype == object or pd.api.types.is_string_dtype(column.dtype)
        cats = categories(column.to_numpy(dtype=object)) if text else None  # a plain array iterates fast
        if cats is None:
            out[name] = column.to_numpy()[where]
        else:
            out[name] = pd.Categorical.from_codes(cats.get_indexer(column)[where], dtype=pd.CategoricalDtype(cats))
    return out
