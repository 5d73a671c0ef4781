"""Rows handed to a worker through a file, a slice at a time, instead of through the pool's pipe.

A cold run's `tables/metrics.csv` needs every record: 5 million rows for a tree of training logs,
3 million at 100,000 evaluation files; the overview of those logs draws 5 million points. Sent as a
job argument, the whole frame is pickled into one buffer in this process (300 MB for the overview)
and unpickled in the worker beside that buffer, at the run's memory peak. Spooled, this process
writes the rows in slices of `SLICE_ROWS` into a file under its own cache folder. A table written
in blocks reads them back one slice at a time as it formats them (`SpoolReader.rows`); a figure
reads them into columns allocated once (`read_spool`): neither side holds the rows twice.

The file is written and read by this run's own processes, the same trust as the pipe (pickle); the
main process removes it once the job is done.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import pandas as pd

SLICE_ROWS = 100_000  # rows per slice in the file: what a reader holds at a time
_SUFFIX = ".spool"


def write_spool(frame: "pd.DataFrame", folder: Path) -> Path:
    """Write `frame` into a new file in `folder` (created if missing) and return its path: a header
    (columns, dtypes: a categorical's labels once), then slices of codes and values."""
    import numpy as np
    import pandas as pd

    from utils.labels import codes_of
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"rows-{os.getpid()}-", suffix=_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            columns = list(frame.columns)
            dtypes = [frame[c].dtype for c in columns]
            plain_index = isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 \
                and frame.index.step == 1
            pickle.dump((columns, dtypes, len(frame), plain_index), fh, protocol=pickle.HIGHEST_PROTOCOL)
            arrays = [codes_of(frame[c]) if isinstance(t, pd.CategoricalDtype)
                      else frame[c].to_numpy() if isinstance(t, np.dtype) else frame[c].array  # no copy
                      for c, t in zip(columns, dtypes)]
            index = None if plain_index else frame.index
            for start in range(0, len(frame), SLICE_ROWS):
                stop = min(start + SLICE_ROWS, len(frame))
                part = ([a[start:stop] for a in arrays], None if index is None else index[start:stop])
                pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


class SpoolReader:
    """The rows of a spool file, read forward: `rows(start, stop)` for ascending, non-overlapping
    ranges keeps only the slices still ahead in memory."""

    def __init__(self, path: Path) -> None:
        self._fh: BinaryIO = open(path, "rb")
        self.columns, self.dtypes, self.length, self._plain = pickle.load(self._fh)
        self._slices: list[tuple[int, "pd.DataFrame"]] = []  # (first row, rows) in memory, in order
        self._next = 0  # the first row not yet read from the file

    def __enter__(self) -> "SpoolReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()

    def _read_slice(self) -> "pd.DataFrame":
        import pandas as pd
        arrays, index = pickle.load(self._fh)
        data = {}
        for name, dtype, values in zip(self.columns, self.dtypes, arrays):
            data[name] = (pd.Categorical.from_codes(values, dtype=dtype) if isinstance(dtype, pd.CategoricalDtype)
                          else values)
        if index is None:
            index = pd.RangeIndex(self._next, self._next + len(arrays[0]) if arrays else self._next)
        return pd.DataFrame(data, index=index, columns=self.columns, copy=False)

    def rows(self, start: int, stop: int) -> "pd.DataFrame":
        """Rows `start` to `stop` (positions in the spooled frame): those before `start` are let go."""
        import pandas as pd
        while self._next < stop:
            part = self._read_slice()
            self._slices.append((self._next, part))
            self._next += len(part)
        self._slices = [(at, part) for at, part in self._slices if at + len(part) > start]
        pieces = [part.iloc[max(start - at, 0):stop - at] for at, part in self._slices if at < stop]
        if len(pieces) == 1:
            return pieces[0]
        if not pieces:
            return self.empty()
        return pd.concat(pieces)

    def whole(self) -> "pd.DataFrame":
        """Every row (read from the start of the file): each column allocated once and filled slice
        by slice, so the rows are never held twice."""
        import numpy as np
        import pandas as pd
        if self._next:
            raise ValueError("whole() reads a spool from its start")
        fill: list = []
        for dtype in self.dtypes:
            if isinstance(dtype, pd.CategoricalDtype):
                fill.append(None)  # the codes' width is the first slice's
            elif isinstance(dtype, np.dtype):
                fill.append(np.empty(self.length, dtype=dtype))
            else:
                fill.append([])  # an extension array (nullable, string): its slices joined at the end
        index: list = []
        at = 0
        while at < self.length:
            arrays, part = pickle.load(self._fh)
            stop = at + len(arrays[0])
            for i, values in enumerate(arrays):
                if fill[i] is None:
                    fill[i] = np.empty(self.length, dtype=values.dtype)
                if isinstance(fill[i], list):
                    fill[i].append(values)
                else:
                    fill[i][at:stop] = values
            if part is not None:
                index.append(part)
            at = stop
        self._next = at
        data = {}
        for name, dtype, values in zip(self.columns, self.dtypes, fill):
            if values is None:
                data[name] = pd.Categorical.from_codes(np.empty(0, dtype="int8"), dtype=dtype)
            elif isinstance(dtype, pd.CategoricalDtype):
                data[name] = pd.Categorical.from_codes(values, dtype=dtype, validate=False)
            elif isinstance(values, list):
                data[name] = (type(values[0])._concat_same_type(values) if values
                              else pd.array([], dtype=dtype))
            else:
                data[name] = values
        if self._plain:
            at_index = pd.RangeIndex(self.length)
        else:
            at_index = index[0].append(index[1:]) if index else pd.RangeIndex(0)
        return pd.DataFrame(data, index=at_index, columns=self.columns, copy=False)

    def empty(self) -> "pd.DataFrame":
        """No rows, with the spooled frame's columns and dtypes."""
        import pandas as pd
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(self.columns, self.dtypes)}, columns=self.columns)


def read_spool(path: Path) -> "pd.DataFrame":
    """The frame `write_spool` wrote to `path`."""
    with SpoolReader(path) as reader:
        return reader.whole()


def remove_stale(folder: Path) -> list[Path]:
    """Remove the spool files in `folder` left by a process that no longer runs (killed before it
    could remove its own); another live run's files are left alone. Returns those removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        parts = name.split("-")
        if not (name.startswith("rows-") and name.endswith(_SUFFIX) and len(parts) >= 3 and parts[1].isdigit()):
            continue
        if _alive(int(parts[1])):
            continue
        try:
            os.unlink(folder / name)
            removed.append(folder / name)
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
