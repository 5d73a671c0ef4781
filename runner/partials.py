"""Partwise views kept from run to run (`analysis.views.PARTWISE`): a changed file recomputes only
the parts of a view whose source rows changed.

The seed averages and the predictions are computed part by part (a seed-free model, a seed) from
their source's rows of that part alone. A run hashes each part's source rows; a part whose digest is
the one the last run kept takes the last run's rows, the others are computed together, and `order`
puts the view together as a whole computation orders it. One changed evaluation file of a
100,000-file sweep changes one model's and one seed's rows: the rest is reused.

Kept in `<out>/.cache/parts.pickle` (builtins only: `utils.safe_pickle`), under a key of the code
and the rules: any change to either, or a file that does not read back, starts over with no part
kept. A watch session keeps the memo in memory between runs.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from analysis.frames import rows_by_code
from analysis.views import Partwise
from utils.atomic import write_pickle
from utils.config import Config
from utils.hashing import row_hashes
from utils.safe_pickle import read_builtins

log = logging.getLogger(__name__)

VERSION = "parts-1"
_NUMPY_KINDS = "biuf"  # columns kept as their bytes; the others as their distinct values and codes


class PartMemo:
    """Each partwise view's rows, part after part, with the digest of the source rows each part
    came from and where its rows are."""

    def __init__(self, key: str) -> None:
        self.key = key  # the code and rules the parts were computed with
        # view -> (its rows, part after part; part -> (digest, start, stop) of its rows there)
        self.views: dict[str, tuple[pd.DataFrame, dict[Any, tuple[str, int, int]]]] = {}
        self.dirty = False
        self.reused: dict[str, int] = {}  # view -> parts taken from the memo this run (tests, logs)

    @classmethod
    def load(cls, path: Path, key: str) -> PartMemo:
        """The memo saved at `path` under `key`; an empty one when there is none, it is of other
        code or rules, or it does not read back (logged)."""
        memo = cls(key)
        saved = read_builtins(path, "view memo", "computing every part")
        if saved is None:
            return memo
        try:
            version, saved_key, views = saved
            if version != VERSION or saved_key != key:
                return memo
            for name, (columns, parts) in views.items():
                frame = _frame(columns)
                spans = {part: (str(digest), int(a), int(b)) for part, (digest, a, b) in parts.items()}
                if any(not 0 <= a <= b <= len(frame) for _, a, b in spans.values()):
                    raise ValueError(f"view {name}: a part's rows lie outside its {len(frame)} rows")
                memo.views[name] = (frame, spans)
        except (TypeError, ValueError, KeyError) as exc:
            log.warning("view memo %s is malformed (%s); computing every part", path, exc)
            return cls(key)
        return memo

    def save(self, path: Path) -> None:
        """Write the memo to `path` (atomically) if it changed; a view whose columns do not keep as
        builtins is left out (computed whole next time)."""
        if not self.dirty:
            return
        views = {}
        for name, (frame, spans) in self.views.items():
            try:
                views[name] = (_columns(frame), spans)
            except TypeError as exc:
                log.info("view %s is not kept for the next run: %s", name, exc)
        write_pickle(path, (VERSION, self.key, views))
        self.dirty = False

    def view(self, name: str, spec: Partwise, config: Config, get: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
        """The view `name`, its unchanged parts taken from the memo and the others computed (all
        of them the first time): the same frame as `analysis.views.whole(name, ...)`."""
        source = spec.source(get)
        found, uniques = pd.factorize(spec.part(source, config), use_na_sentinel=True)
        if len(source) == 0 or (found < 0).any():  # a row of no part: nothing to go by
            if self.views.pop(name, None) is not None:
                self.dirty = True  # the parts kept on disk are of no use either
            return spec.finish(spec.rows(source, config), config)
        labels = [_plain(v) for v in uniques]
        header = f"{list(source.columns)}|{list(map(str, source.dtypes))}".encode()
        hashes = row_hashes(source)
        by_part, starts = rows_by_code(found, len(labels))
        digests = [hashlib.blake2b(header + hashes[by_part[a:b]].tobytes(), digest_size=16).hexdigest()
                   for a, b in zip(starts[:-1], starts[1:])]
        frame, spans = self.views.get(name, (None, {}))
        stale = [i for i, (label, digest) in enumerate(zip(labels, digests)) if spans.get(label, ("",))[0] != digest]
        everything = len(stale) == len(labels)
        rows = None
        if stale:
            at = None if everything else np.sort(np.concatenate([by_part[starts[i]:starts[i + 1]] for i in stale]))
            rows = spec.rows(source if at is None else source.iloc[at], config)
        fresh, fresh_spans = _by_part(rows, spec.column, {labels[i]: digests[i] for i in stale}, name)
        skip = set(stale)
        kept = [(label, digest) for i, (label, digest) in enumerate(zip(labels, digests)) if i not in skip]
        pieces, new_spans, size = [], {}, 0
        for label, digest in kept:
            n = spans[label][2] - spans[label][1]
            new_spans[label] = (digest, size, size + n)
            size += n
        if size:  # no empty piece: its columns' dtypes (an empty view's) would change the others'
            pieces.append(frame.iloc[np.concatenate([np.arange(*spans[label][1:]) for label, _ in kept])])
        for label, (digest, a, b) in fresh_spans.items():
            new_spans[label] = (digest, size + a, size + b)
        if fresh is not None:
            pieces.append(fresh)
        if pieces:
            held = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
        else:  # no part has rows: what the changed ones computed, or the last run's view (no rows either)
            held = rows if rows is not None else frame
        self.views[name] = (held, new_spans)
        self.reused[name] = len(kept)
        log.debug("view %s: %d of %d parts kept from the last run", name, len(kept), len(labels))
        self.dirty = self.dirty or bool(stale) or len(spans) != len(labels)
        if everything:  # computed whole: in the view's order already
            return spec.finish(rows, config)
        if not len(held):
            return spec.finish(spec.rows(source.iloc[:0], config), config)
        return spec.finish(spec.order(held, config), config)


def _by_part(rows: pd.DataFrame | None, column: str, digests: dict[Any, str],
             name: str) -> tuple[pd.DataFrame | None, dict[Any, tuple[str, int, int]]]:
    """The computed `rows` part after part (by their `column`), and each part's (digest, start,
    stop) there: every part of `digests`, one with no rows too."""
    if rows is None or not len(rows):
        return None, {label: (digest, 0, 0) for label, digest in digests.items()}
    found, uniques = pd.factorize(rows[column], use_na_sentinel=True)
    own = [_plain(v) for v in uniques]
    if (found < 0).any() or not set(own) <= set(digests):
        raise RuntimeError(f"view {name!r}: rows of parts {sorted(set(own) - set(digests), key=str)[:3]} came "
                           f"from other parts' rows: analysis/views.py PARTWISE misdeclares it")
    order, starts = rows_by_code(found, len(own))
    where = {label: (int(a), int(b)) for label, a, b in zip(own, starts[:-1], starts[1:])}
    return rows.iloc[order], {label: (digest, *where.get(label, (0, 0))) for label, digest in digests.items()}


def _plain(value: Any) -> Any:
    """A part's label as a builtin (numpy integers -> int): a memo key that pickles as a builtin."""
    return value.item() if isinstance(value, np.generic) else value


def _columns(frame: pd.DataFrame) -> tuple:
    """A frame as builtins: per column its name, dtype and values; numbers as their bytes, labels
    as their distinct values and each row's code (bytes), which load many times faster than a
    list of every row's string."""
    out = []
    for name, column in frame.items():
        dtype = column.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in _NUMPY_KINDS:
            out.append((name, dtype.str, column.to_numpy().tobytes()))
            continue
        if isinstance(dtype, pd.CategoricalDtype):  # its categories are more than the values it holds
            raise TypeError(f"column {name!r} is categorical")
        if dtype == object:  # None and NaN are both missing to a factorization: kept one by one
            values = column.tolist()
            codes = None
        else:
            found, uniques = pd.factorize(column, use_na_sentinel=True)
            values, codes = [_plain(v) for v in uniques.tolist()], found.astype("int32").tobytes()
        if not all(v is None or type(v) in (str, float, int, bool) for v in values):
            raise TypeError(f"column {name!r} ({dtype}) holds values that are not strings or numbers")
        out.append((name, str(dtype), values, codes))
    return tuple(out)


def _frame(columns: tuple) -> pd.DataFrame:
    """The frame `_columns` gave."""
    data = {}
    for name, dtype, *values in columns:
        if isinstance(values[0], bytes):
            data[name] = np.frombuffer(values[0], dtype=np.dtype(dtype)).copy()
            continue
        values, codes = values
        if codes is not None:
            at = np.frombuffer(codes, dtype="int32")
            values = np.array([*values, None], dtype=object)[at]  # code -1: missing, the last
        data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data)
