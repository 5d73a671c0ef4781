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
from utils.labels import categories
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
    frame = result.frame
    arrays: dict[str, np.ndarray] = {}
    cats: dict[str, list[str]] = {}
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            cats[col] = frame[col].cat.categories.tolist()
            arrays[f"codes:{col}"] = frame[col].cat.codes.to_numpy()
        else:
            arrays[f"values:{col}"] = frame[col].to_numpy()
    meta = {"version": VERSION, "key": key, "columns": list(frame.columns), "categories": cats,
            "rows": len(frame), "paths": result.paths,
            "statuses": [[f.path, f.reader, f.records, f.status, f.reason] for f in result.statuses],
            "problems": [[str(p.path), p.reason] for p in result.problems],
            "notes": [[str(p.path), p.reason] for p in result.notes],
            "partial": [[str(p.path), p.reason] for p in result.partial],
            "skipped": [str(p) for p in result.skipped],
            "stamps": [[p, size, mtime] for p, (size, mtime) in stamps.items()], "racy": racy}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8", "surrogateescape"), dtype=np.uint8)
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


def read_table(path: Path, key: str) -> tuple[Stamps, dict[str, str], LoadResult] | None:
    """The stamps, racy digests and load result saved at `path` under `key`; None when there is
    none, or it was saved under another key or version, or does not read back whole (then logged)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(bytes(saved["meta"]).decode("utf-8", "surrogateescape"))
            if meta.get("version") != VERSION or meta.get("key") != key:
                return None
            data = {}
            for col in meta["columns"]:
                if col in meta["categories"]:
                    dtype = pd.CategoricalDtype(categories(meta["categories"][col]))
                    data[col] = pd.Categorical.from_codes(saved[f"codes:{col}"], dtype=dtype)
                else:
                    data[col] = saved[f"values:{col}"]
                if len(data[col]) != meta["rows"]:
                    raise ValueError(f"column {col} has {len(data[col])} rows, not {meta['rows']}")
        result = LoadResult(
            frame=pd.DataFrame(data, columns=meta["columns"], copy=False), paths=list(meta["paths"]),
            statuses=[FileStatus(*f) for f in meta["statuses"]],
            problems=[Problem(Path(p), r) for p, r in meta["problems"]],
            notes=[Problem(Path(p), r) for p, r in meta["notes"]],
            partial=[Problem(Path(p), r) for p, r in meta["partial"]],
            skipped=[Path(p) for p in meta["skipped"]], by_file=True)
        stamps = {p: (int(size), int(mtime)) for p, size, mtime in meta["stamps"]}
        racy = {str(p): str(d) for p, d in meta["racy"].items()}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        log.warning("saved table %s is unreadable (%s); loading every file", path, exc)
        return None
    return stamps, racy, result
