"""A table as CSV text, byte for byte what `DataFrame.to_csv(index=False)` writes, formatted a column
at a time: each distinct label is quoted once by the `csv` module itself (not once per row), numbers
are turned into text a column at a time (Python's repr of a double is numpy's shortest repr, which
`to_csv` writes), and the rows are joined in C. On the
100,000-file sweep `tables/metrics.csv` (5.6 million rows) is the slowest output of a cold run;
`to_csv` spends its time handing each cell to the csv writer one by one.

Columns of other kinds (dates, mixed objects, nullable integers, ...) and tables of one column (where
`to_csv` quotes an empty row) are left to `to_csv` itself."""
from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd

from utils.labels import codes, used_codes

_LINE = "\n"


def to_csv_text(frame: pd.DataFrame) -> str:
    """`frame.to_csv(index=False)`, faster for the tidy table's column kinds (see above)."""
    fields = _fields(frame) if frame.shape[1] > 1 and frame.columns.is_unique else None
    if fields is None:
        return frame.to_csv(index=False)
    header = _quoted([str(c) for c in frame.columns])
    if not len(frame):
        return ",".join(header) + _LINE
    body = _LINE.join(map(",".join, zip(*fields)))
    return ",".join(header) + _LINE + body + _LINE


def _fields(frame: pd.DataFrame) -> list[list[str]] | None:
    """Each column's cells as text, or None when some column is not of a kind handled here."""
    out = []
    for name, dtype in frame.dtypes.items():
        if not isinstance(name, str):
            return None
        col = frame[name]
        if isinstance(dtype, pd.CategoricalDtype):
            text = _labels(*codes(col))
        elif dtype == "int64":
            out.append(_integers(col.to_numpy()))
            continue
        elif dtype == "float64":
            values = col.to_numpy()
            # what to_csv writes: numpy's shortest repr, which is Python's repr of the same double
            # (2-3x quicker from a list than numpy's fixed-width text array)
            cells = list(map(repr, values.tolist()))
            for i in np.flatnonzero(np.isnan(values)).tolist():
                cells[i] = ""
            out.append(cells)
            continue
        elif dtype == "bool":
            text = np.where(col.to_numpy(), "True", "False")
        elif pd.api.types.is_string_dtype(dtype):
            text = _labels(*codes(col))
        else:
            return None
        if text is None:
            return None
        out.append(text.tolist())
    return out


def _integers(values: np.ndarray) -> list[str]:
    """Integer cells, each distinct number turned into text once when they repeat (a table's steps:
    a few hundred checkpoints over millions of rows, 10x quicker); one by one when most differ."""
    found, distinct = pd.factorize(values)
    if len(distinct) > len(values) // 2:
        return list(map(str, values.tolist()))
    return np.array(list(map(str, distinct.tolist())), dtype=object)[found].tolist()


def _labels(at: np.ndarray, values: list) -> np.ndarray | None:
    """Cells of a label column from its codes (-1: missing, written empty) and distinct values
    (`utils.labels.codes`), each value quoted once as the csv module quotes it; None for a value
    that is not a string. Only the values the rows use are quoted: a block of a few hundred rows of a
    table whose source column has 100,000 categories quotes a few, not 100,000."""
    used = np.flatnonzero(used_codes(at, len(values)))  # codes present (-1 aside)
    shown = [values[i] for i in used.tolist()]
    if not all(isinstance(v, str) for v in shown):
        return None
    quoted = np.full(len(values) + 1, "", dtype=object)  # code -1 -> the last: ""
    quoted[used] = _quoted(shown)
    return quoted[at]


def _quoted(values: list[str]) -> list[str]:
    """Each string as the csv writer `to_csv` uses writes it in a row of several fields."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=_LINE, quoting=csv.QUOTE_MINIMAL)
    out = []
    for v in values:
        buf.seek(0)
        buf.truncate()
        writer.writerow([v, ""])  # beside another field: a lone empty string would be written `""`
        out.append(buf.getvalue()[:-2])  # without the "," and the line end
    return out
