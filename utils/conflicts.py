"""Conflicting values: two files giving one record different numbers.

A record is one (experiment, condition, task, step, metric, statistic). Copies of a record within
one run folder that agree are merged when loading (utils/loading.py, `merge_repeats`); files that
give one record *different* numbers (lm-eval run twice for one model and task, a result copied
into two run folders and one re-evaluated) are a conflict, said in one line per pair of files, and
decided by one rule: **the newer result wins**, each file's time being the date in an lm-eval file
name (`results_2024-08-21T04-27-29.701325.json`) or else the file's modification time (a tie: the
later path). The figures use the winner's numbers; `tables/metrics.csv` keeps every file's rows
and, when there is a conflict, a `superseded_by` column naming the file that won over each losing row.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from utils.labels import codes, run_starts

KEY = ["experiment", "condition", "task", "step", "metric", "statistic"]
SUPERSEDED = "superseded_by"  # the metrics.csv column naming the winning file of a losing row
_SHOWN = 3  # records named in a conflict line; the others are counted
_NAME_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})[-:](\d{2})[-:](\d{2})(?:\.(\d+))?")


@dataclass(frozen=True)
class Conflict:
    """One pair of files that disagree: the winner (used by the figures), the loser, and the
    records they disagree on as (record, winner's value, loser's value)."""

    winner: str
    loser: str
    why: str
    records: tuple[tuple[str, float, float], ...]

    def __str__(self) -> str:
        shown = "; ".join(f"{what}: {w:.6g} vs {v:.6g}" for what, w, v in self.records[:_SHOWN])
        more = len(self.records) - _SHOWN
        rest = f"; +{more} more (all in tables/metrics.csv, column {SUPERSEDED})" if more > 0 else ""
        return (f"{self.winner} and {self.loser} give different values for {len(self.records)} record"
                f"{'' if len(self.records) == 1 else 's'} ({shown}{rest}); the figures use {self.winner} "
                f"({self.why})")


def file_time(source: str, root: Path) -> tuple[float, str]:
    """(seconds since the epoch, how it was found) for a file given by its root-relative path:
    the date in its name (lm-eval's `results_<date>.json`), else its modification time."""
    m = _NAME_DATE.search(source.rsplit("/", 1)[-1])
    if m:
        y, mo, d, h, mi, s, frac = m.groups()
        try:
            when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone.utc)
            return when.timestamp() + float(f"0.{frac or 0}"), "date in the file name"
        except ValueError:  # not a real date: fall back to the file's time
            pass
    try:
        return os.stat(root / source).st_mtime, "file time"
    except OSError:
        return float("-inf"), "file time"


def resolve_conflicts(frame: pd.DataFrame, root: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[Conflict]]:
    """(rows the figures use, every row for tables/metrics.csv, the conflicts).

    Without a conflict both frames are `frame` itself (no new column); with one, the losing files'
    rows of each conflicting record leave the first frame, and the second gains `superseded_by`."""
    if frame.empty or "source" not in frame.columns or not _shared(frame):
        return frame, frame, []
    repeated = frame[frame.duplicated(KEY, keep=False)]
    if repeated.empty:
        return frame, frame, []
    per_key = repeated.groupby(KEY, sort=False, dropna=False)
    spread = per_key["source"].transform("nunique").to_numpy()
    low = per_key["value"].transform("min").to_numpy(dtype="float64")
    high = per_key["value"].transform("max").to_numpy(dtype="float64")
    nan = per_key["value"].transform(lambda v: v.isna().any() and v.notna().any()).to_numpy(dtype=bool)
    differ = (spread > 1) & (~np.isclose(low, high, rtol=1e-6, atol=0.0) | nan)
    rows = repeated[differ]
    if rows.empty:
        return frame, frame, []
    times = {s: file_time(s, root) for s in rows["source"].unique()}
    newest = rows.groupby(KEY, sort=False, dropna=False, observed=True)["source"].transform(
        lambda sources: max(sources.unique(), key=lambda s: (times[s][0], s)))
    won = newest.to_numpy(dtype=object)
    lost = rows["source"].to_numpy(dtype=object) != won
    superseded = pd.Series("", index=frame.index, dtype="object")
    superseded.loc[rows.index[lost]] = won[lost]
    records = frame.assign(**{SUPERSEDED: superseded.to_numpy()})
    used = frame.drop(index=rows.index[lost]).reset_index(drop=True)
    return used, records, _conflicts(rows, won, lost, times)


def _shared(frame: pd.DataFrame) -> bool:
    """Could two files give one record? Only if two files share an experiment x condition x task:
    in the usual tree (a file per evaluation) none do, and finding that on the label codes is
    several times cheaper than looking for repeated records among millions of rows."""
    keys = [codes(frame[c])[0] for c in ("experiment", "condition", "task", "source")]
    sizes = [int(k.max()) + 1 for k in keys]
    if min(k.min() for k in keys) < 0 or np.prod(sizes, dtype=float) >= 2.0 ** 62:
        return True  # a missing label, or too many to pack in one integer: the full check decides
    starts = run_starts(*keys)
    key = np.zeros(int(starts.sum()), dtype="int64")
    for k, size in zip(keys[:3], sizes):
        key = key * size + k[starts]
    pairs = pd.unique(key * sizes[3] + keys[3][starts]) // sizes[3]  # each file's evaluations, once
    return len(pd.unique(pairs)) < len(pairs)


def _conflicts(rows: pd.DataFrame, won: np.ndarray, lost: np.ndarray,
               times: dict[str, tuple[float, str]]) -> list[Conflict]:
    """One Conflict per (winner, loser) pair of files, its records in table order."""
    value_of = {(tuple(r[c] for c in KEY), r["source"]): r["value"] for _, r in rows.iterrows()}
    pairs: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    for (_, r), w in zip(rows[lost].iterrows(), won[lost]):
        key = tuple(r[c] for c in KEY)
        what = f"{r['experiment']} {r['condition']}/{r['task']} {r['metric']}" + (
            f" {r['statistic']}" if r["statistic"] not in ("value", "mean") else "") + f" step {r['step']}"
        pairs.setdefault((w, r["source"]), []).append((what, value_of[(key, w)], r["value"]))
    out = []
    for (w, loser), records in pairs.items():
        why = ("newer: " + times[w][1]) if times[w][0] != times[loser][0] else "same time: the later path"
        out.append(Conflict(w, loser, why, tuple(records)))
    return sorted(out, key=lambda c: (c.winner, c.loser))
