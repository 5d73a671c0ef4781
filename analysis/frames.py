"""Frames of millions of rows read row by row (the few steps no vectorised pandas operation expresses),
sorted, put end to end and narrowed without a whole copy held beside them."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from utils.labels import codes_of, run_starts


def columns(frame: pd.DataFrame, *names: str) -> Iterator[tuple]:
    """The rows of some columns as tuples, read from plain arrays: iterating a pandas string column
    goes through one `__getitem__` a value (10 s of a 5-million-record log tree's overview)."""
    return zip(*(frame[n].to_numpy(dtype=object) for n in names))


def _sort_key(column: pd.Series) -> np.ndarray:
    """A column as numbers that sort as `sort_values` sorts it, missing values last: a categorical's
    codes, a number itself, anything else its rank among its distinct values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = codes_of(column)
        return np.where(codes < 0, len(column.cat.categories), codes) if (codes < 0).any() else codes
    if column.dtype.kind in "biuf":
        return column.to_numpy()  # NaN sorts last in numpy too
    codes, uniques = pd.factorize(column, sort=True)
    return np.where(codes < 0, len(uniques), codes)


def _exact_key(column: pd.Series) -> np.ndarray | None:
    """A key column as numbers that order and equal as `sort_values` and `groupby` take it: a
    categorical's codes, an integer column itself; None for anything else or a missing value (which
    a group-by leaves out)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = codes_of(column)
        return values if not len(values) or values.min() >= 0 else None
    return column.to_numpy() if column.dtype.kind in "iu" else None


def exact_keys(frame: pd.DataFrame, keys: list[str]) -> list[np.ndarray] | None:
    """The `keys` columns as numbers (`_exact_key`), or None when one is not categorical or integer
    or has a missing value. Two slices of one table compare by these as by their labels."""
    arrays = [_exact_key(frame[k]) for k in keys]
    return None if any(a is None for a in arrays) else arrays


def strictly_sorted(frame: pd.DataFrame, keys: list[str]) -> bool:
    """Are `frame`'s rows already in `sort_values(keys)` order, no two with the same keys? Then a
    sort and a `drop_duplicates(keys)` would return the rows as they are. Said only of categorical
    and integer keys without missing values (False for others: the caller sorts as before); one pass
    over neighbours, no sort."""
    arrays = exact_keys(frame, keys)
    if arrays is None:
        return False
    if len(frame) < 2:
        return True
    after = None  # neighbour pairs in order by the keys after this one
    for values in reversed(arrays):
        later, earlier = values[1:], values[:-1]
        after = later > earlier if after is None else (later > earlier) | ((later == earlier) & after)
    return bool(after.all())


def label_numbers(frame: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, list[int]] | None:
    """One integer a row, equal for two rows exactly when each of their `names` columns is (a missing
    value equal to a missing one): the columns' codes (a categorical's own, any other column
    factorized) in mixed radix, the first column most significant; with each column's radix. No copy
    of the label columns, no group-by over several of them. None when the radixes' product would
    not fit in 62 bits."""
    key = np.zeros(len(frame), dtype=np.int64)
    sizes, total = [], 1
    for name in names:
        column = frame[name]
        codes = (codes_of(column) if isinstance(column.dtype, pd.CategoricalDtype)
                 else pd.factorize(column, use_na_sentinel=True)[0])
        size = int(codes.max(initial=-1)) + 2  # codes from -1 (missing) up
        total *= size
        if total >= 1 << 62:
            return None
        key *= size
        key += codes
        key += 1
        sizes.append(size)
    return key, sizes


def group_numbers(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """`frame.groupby(keys, sort=False, observed=True, dropna=False).ngroup()` as an array: each row's
    group, numbered in the order the groups first appear, a missing key a value like any other.
    Factorized once on `label_numbers` (a log tree's 5 million overview rows: ~0.1 s, the group-by
    ~0.4 s); by the group-by where those do not fit."""
    numbered = label_numbers(frame, keys)
    if numbered is None:
        return frame.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    return pd.factorize(numbered[0])[0]


def group_ends(frame: pd.DataFrame, keys: list[str]) -> np.ndarray | None:
    """The position of each group's last row in a frame whose rows of one group (same `keys`) lie
    together: what `groupby(keys).tail(1)` takes, in the frame's order. None when a key is not
    categorical or integer or has missing values (the caller groups as before)."""
    arrays = exact_keys(frame, keys)
    if arrays is None:
        return None
    if not len(frame):
        return np.zeros(0, dtype=np.int64)
    starts = run_starts(*arrays)  # a group's first row: the row after it ends the group before
    return np.flatnonzero(np.append(starts[1:], True))


def rows_by_code(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions ordered code after code (each code's rows in their order), and where each of
    the codes 0..n-1 starts in them (`n + 1` bounds); rows of code -1 (no group) lie before the first."""
    order = np.argsort(codes, kind="stable")
    return order, np.searchsorted(codes[order], np.arange(n + 1))


def group_rows(frame: pd.DataFrame, keys: list[str]) -> list[np.ndarray]:
    """The positions of each group's rows, groups in `groupby(keys, sort=True, observed=True)`'s order
    and rows in the frame's: what iterating that group-by gives, without a frame made per group (a
    figure's line per run: hundreds of slices)."""
    if frame.empty:
        return []
    groups = frame.groupby(keys, sort=True, observed=True)
    ids = groups.ngroup().fillna(-1).to_numpy(dtype=np.int64)  # a row of a missing key: in no group (-1)
    order, bounds = rows_by_code(ids, groups.ngroups)
    return [order[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]


def sort_order(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """The positions of `frame`'s rows in `frame.sort_values(keys)`'s order (the same ties: a stable
    sort), found on the keys' own arrays: no sorted copy of the keys is made."""
    return np.lexsort([_sort_key(frame[k]) for k in reversed(keys)])


def sorted_by(frame: pd.DataFrame, keys: list[str], keep: list[str] | None = None) -> pd.DataFrame:
    """`frame[keep].sort_values(keys, ignore_index=True)` (`keep`: every column when None), the same
    rows in the same order, taken a column at a time while the frame lets go of each: a selection and
    a sort each copy the whole frame beside it (600 MB at once for a log tree's 5 million overview
    rows), this copies one column at a time. `frame` is emptied: the caller passes a frame of its own."""
    order = sort_order(frame, keys)
    out = {}
    for name in list(frame.columns) if keep is None else keep:
        column = frame.pop(name)
        out[name] = column.take(order).reset_index(drop=True)
        del column
    for name in list(frame.columns):  # the columns not kept: let go of too
        del frame[name]
    return pd.DataFrame(out, copy=False)  # the columns as taken, not copied into blocks


def concat_rows(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """`pd.concat(parts, ignore_index=True)` of frames with the same columns, a column at a time while
    each part lets go of it, so the parts and the whole are never held side by side (300 MB for a
    log tree's overview). `parts` is emptied: the caller hands over frames of its own."""
    if len(parts) < 2 or any(set(p.columns) != set(parts[0].columns) or not p.columns.is_unique for p in parts):
        out = pd.concat(parts, ignore_index=True)
        parts.clear()
        return out
    out = {}
    for name in list(parts[0].columns):
        pieces = [part.pop(name) for part in parts]
        out[name] = pd.concat(pieces, ignore_index=True)
        del pieces
    parts.clear()
    return pd.DataFrame(out, copy=False)


def narrowest_ints(column: pd.Series) -> pd.Series:
    """A whole-number column in the narrowest signed integer type that holds its values (int8 for
    page numbers): `pd.to_numeric(downcast=...)` checks its cast through float copies of the column
    (120 MB at once for a log tree's 5 million overview rows); min and max tell the same here."""
    values = column.to_numpy()
    if not len(values):
        return column
    low, high = values.min(), values.max()
    for dtype in (np.int8, np.int16, np.int32):
        limits = np.iinfo(dtype)
        if limits.min <= low and high <= limits.max:
            return column.astype(dtype)
    return column
