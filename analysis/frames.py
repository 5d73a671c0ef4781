"""Reading a table row by row, for the few steps no vectorised pandas operation expresses."""
from __future__ import annotations

from typing import Iterator

import pandas as pd


def columns(frame: pd.DataFrame, *names: str) -> Iterator[tuple]:
    """The rows of some columns as tuples, read from plain arrays: iterating a pandas string column
    goes through one `__getitem__` a value (10 s of a 5-million-record log tree's overview)."""
    return zip(*(frame[n].to_numpy(dtype=object) for n in names))


def sorted_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`frame.sort_values(keys, ignore_index=True)`, the same rows in the same order, taken a column
    at a time while the frame lets go of each: a sort copies the whole frame beside it (600 MB at
    once for a log tree's 5 million overview rows), this copies one column at a time. `frame` is
    emptied: the caller passes a frame of its own."""
    # the keys alone sorted (the same sort, the same ties), by position
    order = frame[keys].reset_index(drop=True).sort_values(keys).index.to_numpy()
    out = {}
    for name in list(frame.columns):
        column = frame.pop(name)
        out[name] = column.take(order).reset_index(drop=True)
        del column
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
