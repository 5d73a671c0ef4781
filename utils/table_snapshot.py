"""The last load kept on disk (`<out>/.cache/table.npz`), so that a rerun after a few changed files
reads just those into it (utils/reloading.py) instead of building the table of every file again
(and without unpickling the parse cache of every file: at 100,000 files that is most of a rerun's
load).

Saved only by a run that read exactly the files its listing stamped, with those stamps: its content
is what a load of those files gives, so a later run whose listing differs in a few files' stamps
only needs those files read. The arrays are numpy's own format and the rest JSON, read with
`allow_pickle=False`: a corrupt or foreign file is ignored (the run loads whole), never executed.
"""
from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from utils.atomic import atomic_open
from utils.config import Config
from utils.labels import kept_categories
from utils.loading import _CACHE_VERSION, FileStatus, LoadResult, Problem, reading_rules

log = logging.getLogger(__name__)

VERSION = "table-1"
Stamps = dict[str, tuple[int, int]]  # file -> (size, mtime_ns) as the run that saved it listed it


def table_key(config: Config, root: Path) -> str:
    """What a saved table depends on besides its files: the reading rules, the folders skipped, the
    data root, the parse format and the pandas version."""
    return json.dumps([_CACHE_VERSION, reading_rules(config), sorted(map(str, config.skip)), str(root.resolve()),
                       pd.__version__])


def save_table(path: Path, result: LoadResult, stamps: Stamps, racy: dict[str, str], key: str) -> None:
    """Write the load `result` of the files `stamps` lists (`racy`: the content digests of those
    whose stamp was too recent to vouch for them), under `key` (what reading them depends on)."""
    write_arrays(path, table_arrays(result, stamps, racy, key))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The arrays of `table_arrays` into `path`, atomically (file I/O only: a thread can do it)."""
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def table_arrays(result: LoadResult, stamps: Stamps, racy: dict[str, str], key: str) -> dict[str, np.ndarray]:
    """What `save_table` writes, as arrays: the frame's columns (codes and numbers, no copy) and,
    column by column, the long lists (paths, statuses, stamps) as NUL-joined text and integer
    arrays, not a JSON value a file; the rest as JSON."""
    frame = result.frame
    arrays: dict[str, np.ndarray] = {}
    cats: dict[str, list[str]] = {}
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            cats[col] = frame[col].cat.categories.tolist()
            arrays[f"codes:{col}"] = frame[col].cat.codes.to_numpy()
        else:
            arrays[f"values:{col}"] = frame[col].to_numpy()
    if result.row_hashes is not None and len(result.row_hashes) == len(frame):
        arrays["row_hashes"] = result.row_hashes
    statuses = result.statuses
    arrays["paths"] = _text(result.paths)
    arrays["status_paths"] = _text([f.path for f in statuses])
    arrays["status_records"] = np.array([f.records for f in statuses], dtype=np.int64)
    arrays["stamp_paths"] = _text(list(stamps))
    arrays["stamps"] = np.array(list(stamps.values()), dtype=np.int64).reshape(len(stamps), 2)
    meta = {"version": VERSION, "key": key, "columns": list(frame.columns), "categories": cats,
            "rows": len(frame), "readers": [f.reader for f in statuses], "status": [f.status for f in statuses],
            "reasons": [f.reason for f in statuses],
            "problems": [[str(p.path), p.reason] for p in result.problems],
            "notes": [[str(p.path), p.reason] for p in result.notes],
            "partial": [[str(p.path), p.reason] for p in result.partial],
            "skipped": [str(p) for p in result.skipped], "racy": racy}
    arrays["meta"] = _text([json.dumps(meta)])
    return arrays


def _text(items: list[str]) -> np.ndarray:
    """Strings (none holding a NUL) as one array of UTF-8 bytes."""
    return np.frombuffer("\0".join(items).encode("utf-8", "surrogateescape"), dtype=np.uint8)


def _strings(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8", "surrogateescape")
    return text.split("\0") if text else []


def read_table(path: Path, key: str) -> tuple[Stamps, dict[str, str], LoadResult] | None:
    """The stamps, racy digests and load result saved at `path` under `key`; None when there is
    none, or it was saved under another key or version, or does not read back whole (then logged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(_strings(saved["meta"])[0])
            if meta.get("version") != VERSION or meta.get("key") != key:
                return None
            data = {}
            for col in meta["columns"]:
                if col in meta["categories"]:
                    dtype = pd.CategoricalDtype(kept_categories(meta["categories"][col]))
                    data[col] = pd.Categorical.from_codes(saved[f"codes:{col}"], dtype=dtype)
                else:
                    data[col] = saved[f"values:{col}"]
                if len(data[col]) != meta["rows"]:
                    raise ValueError(f"column {col} has {len(data[col])} rows, not {meta['rows']}")
            columns = (_strings(saved["status_paths"]), meta["readers"], saved["status_records"].tolist(),
                       meta["status"], meta["reasons"])
            if len({len(c) for c in columns}) != 1:
                raise ValueError("status columns of different lengths")
            stamp_paths, numbers = _strings(saved["stamp_paths"]), saved["stamps"].tolist()
            if len(stamp_paths) != len(numbers):
                raise ValueError("stamps of different lengths")
            paths = _strings(saved["paths"])
            hashes = saved["row_hashes"] if "row_hashes" in saved.files else None
            if hashes is not None and (hashes.dtype != np.uint64 or len(hashes) != meta["rows"]):
                raise ValueError(f"row hashes of {hashes.dtype} for {len(hashes)} rows, not {meta['rows']}")
        result = LoadResult(
            frame=pd.DataFrame(data, columns=meta["columns"], copy=False), paths=paths,
            statuses=[FileStatus(*f) for f in zip(*columns)],
            problems=[Problem(Path(p), r) for p, r in meta["problems"]],
            notes=[Problem(Path(p), r) for p, r in meta["notes"]],
            partial=[Problem(Path(p), r) for p, r in meta["partial"]],
            skipped=[Path(p) for p in meta["skipped"]], by_file=True, row_hashes=hashes)
        stamps = {p: (size, mtime) for p, (size, mtime) in zip(stamp_paths, numbers)}
        racy = {str(p): str(d) for p, d in meta["racy"].items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as exc:
        log.warning("saved table %s is unreadable (%s); loading every file", path, exc)
        return None
    return stamps, racy, result
