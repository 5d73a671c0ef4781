"""Discover evaluation files, read each once, and build the one tidy table everything uses.

Parsed files are kept in a cache keyed by path, size and mtime, so a rerun or a watch-mode
rebuild parses only the files that changed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, NamedTuple

import numpy as np
import pandas as pd

from utils.atomic import write_pickle
from utils.config import Config
from utils.errors import EvalFileError, UserError
from utils.filestamp import content_digest, is_racy
from utils.labels import categorical, categories, codes_of, plain, used_codes
from utils.readers import (CHECKPOINT, LFS_POINTER, MISSING, NO_STEP, Columns, PartialRead, ReaderInfo, Record,
                           all_readers, glob_matches, head, lfs_pointer_message)
from utils.safe_pickle import load_builtins
from utils.walk import files_under

if TYPE_CHECKING:
    from concurrent.futures import Executor

log = logging.getLogger(__name__)

COLUMNS = ["experiment", "condition", "task", "step", "metric", "statistic", "value", "source"]
WALL_TIME = "wall_time"  # the column after COLUMNS, only when some record has one (seconds since the epoch)
_CACHE_VERSION = 9  # 3: column-wise outcomes, builtins-only pickle; 4: non-finite values as missing;
# 5: outcomes carry the values note and the partial-read message; 6: append-only logs' read offset;
# 7: packed columns (`pack`); 8: the wall time column; 9: coded string columns
_PARALLEL_MIN = 200  # fewer unparsed files than this are parsed in-process (shipping costs more)


class Stat(NamedTuple):
    """What the loader uses of a file's stat: the parse cache is keyed by size and mtime."""

    st_size: int
    st_mtime_ns: int


# a file to read: (file, reader name, root-relative path, stat, cached outcome or None)
Todo = tuple[str, str, str, "Stat | os.stat_result", "tuple | None"]


@dataclass
class Problem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return self.reason if str(self.path) in self.reason else f"{self.path}: {self.reason}"


# What became of each file under the data root (tables/files.csv): one of these, with a reason.
READ, EMPTY, NOT_EVAL, UNREADABLE, LFS, SKIPPED = ("read", "read but empty", "not an evaluation file", "unreadable",
                                                   "Git LFS pointer", "skipped")
STATUSES = (READ, EMPTY, NOT_EVAL, UNREADABLE, LFS, SKIPPED)
FILE_COLUMNS = ["path", "reader", "records", "status", "reason"]


class FileStatus(NamedTuple):
    """One file under the data root: its root-relative path, the reader that took it ("" for
    none), how many records it gave, its status (`STATUSES`) and why. A tuple: a saved table's
    100,000 are made without an `__init__` call each (`_make`), and files.csv takes them as rows."""

    path: str
    reader: str
    records: int
    status: str
    reason: str = ""


@dataclass
class LoadResult:
    frame: pd.DataFrame
    paths: list[str]  # the evaluation files read (or tried), as strings: a Path each costs ~10 us
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    parsed: list[Path] = field(default_factory=list)  # files actually parsed (not from cache)
    partial: list[Problem] = field(default_factory=list)  # files read in part (a bad line left out)
    merged: int = 0  # records repeated by another file (checkpoint copies, results files), kept once
    notes: list[Problem] = field(default_factory=list)  # files read, with values read as missing
    statuses: list[FileStatus] = field(default_factory=list)  # every file under the root, in path order
    tailed: dict[str, tuple[int, int]] = field(default_factory=dict)  # logs read from an offset: (offset, bytes)
    # the frame is each file's rows in one run, files in key order (`frame_by_file`, nothing merged
    # or placed): a changed file's rows can be put in place of its old ones (utils/reloading.py)
    by_file: bool = False
    # the frame's row hashes (utils.hashing.row_hashes) when known: kept with the saved table and
    # spliced by a reload, so a run hashes only the changed files' rows for tables/metrics.csv
    row_hashes: np.ndarray | None = None

    def status_frame(self) -> pd.DataFrame:
        """tables/files.csv: one row per file under the data root (see `FileStatus`)."""
        return pd.DataFrame(self.statuses, columns=FILE_COLUMNS)

    @property
    def files(self) -> list[Path]:
        """The evaluation files read (or tried)."""
        return [Path(p) for p in self.paths]

    @property
    def empty(self) -> list[Path]:
        """Files a reader took that gave no record: never counted as read."""
        return [Path(f.path) for f in self.statuses if f.status == EMPTY]


def discover(root: Path, config: Config) -> list[tuple[Path, str]]:
    """(file, reader name) for every evaluation file under root, sorted by path.

    Files a `readers:` rule in rules.yaml matches go to that rule's reader (the first whose glob
    matches); every other file is offered to the readers' sniffers (by name, then by a peek at
    the content) and goes to the first reader (by name) that recognises it; the rest are left
    alone. One log line per reader says how many files it got; the files no reader took are named
    when there are few, counted otherwise.
    """
    return [(Path(path), rname) for _, path, rname in _discover(root, config)[0]]


INIT_RULES = "rules.yaml"  # what `run_all.py --init DIR` writes, at the data root
_NAMED_MAX = 10  # files no reader took: named up to this many, else counted


def _discover(root: Path, config: Config, listing: list[tuple] | None = None
              ) -> tuple[list[tuple[str, str, str]], list[str]]:
    """discover() with each file's root-relative posix path: (rel, file, reader name); and the
    root-relative paths of the files no reader took. `listing`: the files under root as
    `utils.walk.stat_files` listed them (walked here when not given)."""
    if not root.is_dir():
        raise UserError(f"{root}: evaluation folder not found (set --data or data.root in {config.path})")
    readers = all_readers()
    for i, rule in enumerate(config.readers):
        if rule.reader not in readers:
            raise UserError(f"{config.path}: readers[{i}].reader: unknown reader {rule.reader!r} "
                            f"(known: {', '.join(sorted(readers))})")
        modes = readers[rule.reader].experiment_from
        if rule.experiment is not None and rule.experiment not in modes:
            raise UserError(f"{config.path}: readers[{i}].experiment: reader {rule.reader!r} " + (
                f"takes {' or '.join(modes)}, not {rule.experiment!r}" if modes else
                "names experiments from the files themselves and takes no experiment option"))
    sniffing = sniffers()
    found: list[tuple[str, str, str]] = []
    by_glob: Counter[str] = Counter()
    left: list[str] = []
    top = os.fspath(root)
    walked = ((full, rel) for full, rel, *_ in listing) if listing is not None else files_under(top)
    for full, rel in walked:  # linked run folders entered once (utils/walk.py)
        if rel == INIT_RULES:  # the rules `--init` writes here: not data, not "other files"
            continue
        chosen, globbed = reader_of(rel, full, config, sniffing)
        if chosen is None:
            left.append(rel)
        else:
            found.append((rel, full, chosen))
            by_glob[chosen] += globbed
    for rname, count in sorted(Counter(r for _, _, r in found).items()):
        globbed = by_glob[rname]
        how = ("matched by the readers: globs" if globbed == count else
               "recognised by name and content" if not globbed else
               f"{globbed} matched by the readers: globs, {count - globbed} recognised by name and content")
        log.info("reader %s: %d file(s) %s", rname, count, how)
    if not found:
        log.warning("no evaluation file under %s: no readers: glob matched and no reader recognised "
                    "any of its %d file(s) (formats: docs/formats.md)", root, len(left))
    if 0 < len(left) <= _NAMED_MAX:
        log.info("%d other file(s) no reader knows, left alone: %s", len(left), ", ".join(left))
    elif left:
        log.info("%d other file(s) under %s are not evaluation files any reader knows; left alone (e.g. %s; "
                 "each is listed in tables/files.csv)", len(left), root, ", ".join(left[:3]))
    found.sort(key=lambda f: f[0].split("/"))  # Path order (by parts), as the callers always had it
    return found, left


def sniffers() -> list[ReaderInfo]:
    """The readers that recognise files by name and content, in the order they are asked."""
    return sorted((r for r in all_readers().values() if r.sniff is not None), key=lambda r: (r.fallback, r.name))


def reader_of(rel: str, full: str, config: Config, sniffing: list[ReaderInfo]) -> tuple[str | None, bool]:
    """The reader that takes a file (root-relative `rel`, at `full`), None for none; and whether a
    `readers:` glob of rules.yaml chose it (else a sniffer of `sniffing` recognised it)."""
    rule = next((r for r in config.readers if glob_matches(rel, r.glob)), None) if config.readers else None
    if rule is not None:
        return rule.reader, True
    name = rel.rpartition("/")[2]
    candidates = [r for r in sniffing if r.accepts is None or r.accepts(name)]
    path = Path(full) if candidates else None  # most files (weights, tokenizers) stop here
    return next((r.name for r in candidates if _sniffs(r, path)), None), False


def _sniffs(info: ReaderInfo, path: Path) -> bool:
    """A reader's sniffer verdict; a sniffer that fails counts as no."""
    try:
        return bool(info.sniff(path))
    except (OSError, ValueError):
        return False


def reading_rules(config: Config) -> str:
    """Hash of the rules a reader's output depends on (readers, conditions, tasks, metric names)."""
    keys = ("readers", "conditions", "tasks", "metric", "statistic", "experiments")
    relevant = json.dumps({k: config.raw.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.blake2b(relevant.encode(), digest_size=8).hexdigest()


class ParseCache:
    """Parsed records per file, invalidated by size and mtime (and content for racy mtimes).

    Outcomes are stored column-wise (`("ok", columns)`: one list per Record field, strings
    interned) so the cache pickles, loads and concatenates fast; the pickle holds only builtin
    types and is read with an unpickler that refuses everything else, so a corrupt or foreign
    file is rebuilt, never trusted or executed.
    """

    def __init__(self, path: Path | None = None, rules: str = "") -> None:
        """`rules`: what the parse depends on besides the file (see `reading_rules`); a cache
        written under other rules is dropped, since the same file would now read differently."""
        self.path = path
        self.version = f"{_CACHE_VERSION}:{rules}"
        self.entries: dict[str, tuple] = {}
        self.dirty = False
        if path is not None and path.exists():
            try:
                with open(path, "rb") as fh:
                    version, entries = load_builtins(fh)
                if version == self.version and isinstance(entries, dict):
                    self.entries = entries
                else:
                    log.info("parse cache %s is from another version or other rules; rebuilding it", path)
            except Exception as exc:  # a corrupt cache is rebuilt, never trusted
                log.warning("parse cache %s is unreadable (%s); rebuilding it", path, exc)

    def get(self, path: str | Path, reader: str, st: Stat | os.stat_result) -> tuple | None:
        """The cached outcome (`("ok", columns, note, partial)` or `("error", reason)`), or None when stale."""
        entry = self.entries.get(os.fspath(path))
        try:
            size, mtime, rname, digest, outcome = entry[:5]
            if (size, mtime, rname) != (st.st_size, st.st_mtime_ns, reader):
                return None
            if digest is not None and digest != content_digest(Path(path)):
                return None
            if outcome[0] == "ok" and isinstance(outcome[1], tuple) and len(outcome[1]) == len(Record._fields) \
                    or outcome[0] == "error":
                return outcome
        except (TypeError, ValueError, IndexError):  # no entry, or a malformed one: parse again
            pass
        return None

    def put(self, path: str | Path, reader: str, st: Stat | os.stat_result, outcome: tuple,
            tail: tuple[int, bytes] | None = None) -> tuple:
        """Store `("ok", records)` or `("error", reason)`; returns the stored (column-wise) outcome.
        `tail`: for an append-only log, (offset of the end of its last complete line, the bytes
        before it), from where a grown file is read on (`tail_of`)."""
        if outcome[0] == "ok":  # records or columns (packed or not) -> packed columns
            cols = outcome[1] if isinstance(outcome[1], tuple) else columnar(outcome[1])
            outcome = ("ok", pack(cols), *outcome[2:])
        racy = is_racy(st.st_mtime_ns, time.time())
        self.entries[os.fspath(path)] = (st.st_size, st.st_mtime_ns, reader,
                                         content_digest(Path(path)) if racy else None, outcome, tail)
        self.dirty = True
        return outcome

    def tail_of(self, path: str | Path, reader: str, st: Stat | os.stat_result) -> tuple[int, tuple] | None:
        """(offset, cached outcome) when an append-only log only grew since it was read: same
        reader, larger, and the bytes before the offset unchanged; else None (read it whole)."""
        entry = self.entries.get(os.fspath(path))
        try:
            size, _, rname, _, outcome, tail = entry
            offset, check = tail
        except (TypeError, ValueError):
            return None
        if rname != reader or st.st_size <= size or outcome[0] != "ok" or offset > size:
            return None
        try:
            with open(path, "rb") as fh:
                fh.seek(offset - len(check))
                if fh.read(len(check)) != check:
                    return None
        except OSError:
            return None
        return offset, outcome

    def update(self, other: ParseCache) -> None:
        """Take the outcomes `other` holds (a scratch cache whose parses were kept)."""
        if other.entries:
            self.entries.update(other.entries)
            self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for key in set(self.entries) - keep:
            del self.entries[key]
            self.dirty = True

    def save(self) -> None:
        if self.path is not None and self.dirty:
            write_pickle(self.path, (self.version, self.entries))
            self.dirty = False


def columnar(records: list[Record] | Columns) -> tuple[list, ...]:
    """Records -> one list per Record field (strings interned: smaller, faster pickles); columns
    from a reader's `columns` hook as they are (their strings are interned by the reader)."""
    if isinstance(records, Columns):
        return tuple(records)
    cols = tuple(map(list, zip(*records))) if records else tuple([] for _ in Record._fields)
    for i, name in enumerate(Record._fields):
        if name not in ("step", "value", "wall_time"):
            try:
                cols[i][:] = map(sys.intern, cols[i])
            except TypeError:  # not a str: leave the column as it is
                pass
    return cols


# A file's columns as the parse cache keeps them (`pack`): a string column holding one string is
# `(string,)`, a long one repeating a few strings `([strings], codes as bytes)` (`_coded`), steps are
# int64 bytes and values float64 bytes when they are plain numbers, anything else stays a list. A sweep file's 55 records are then ~1 KB of bytes instead of ~5 KB of Python
# objects: a 100,000-file cache loads, saves and is held in a fraction of the time and memory. Wall
# times are float64 bytes (NaN where a record has none), or None for a file without any: no cost.
_STEP, _VALUE, _WALL = (Record._fields.index(f) for f in ("step", "value", "wall_time"))
_INTS, _NUMBERS = {int}, {int, float}
_CODED_MIN = 256  # a string column this long or longer is packed as codes (a log's; not a sweep file's ~55)


def pack(cols: tuple[list, ...]) -> tuple:
    """The compact form of a file's columns (see above); `unpack` gives the lists back. Columns
    without the wall time (7, as before it) get None for it."""
    n = packed_len(cols)
    out: list = []
    for i, col in enumerate(cols):
        if i == _WALL:
            out.append(_pack_wall(col))
            continue
        if isinstance(col, (bytes, tuple)):  # packed already
            out.append(col)
            continue
        if i == _STEP and set(map(type, col)) <= _INTS:
            try:
                out.append(np.array(col, dtype="int64").tobytes())
                continue
            except OverflowError:  # a step beyond int64: kept as it is
                pass
        elif i == _VALUE and set(map(type, col)) <= _NUMBERS:
            try:
                out.append(np.array(col, dtype="float64").tobytes())
                continue
            except OverflowError:
                pass
        elif i not in (_STEP, _VALUE) and n and isinstance(col[0], str):
            if col.count(col[0]) == n:
                out.append((col[0],))
                continue
            if n >= _CODED_MIN:
                coded = _coded(col)
                if coded is not None:
                    out.append(coded)
                    continue
        out.append(col if isinstance(col, list) else list(col))
    if len(out) == _WALL:
        out.append(None)
    return tuple(out)


def _coded(col: list) -> tuple[list[str], bytes] | None:
    """A long string column as (its distinct strings, their codes as the narrowest of int8, int16 and
    int32), when every value is a string repeated (a log's metric names: a few over thousands of rows); else None."""
    if not all(type(v) is str for v in col[:: max(1, len(col) // 64)]):  # a sample first: cheap
        return None
    try:
        codes, distinct = pd.factorize(np.array(col, dtype=object))
    except TypeError:  # an unhashable value
        return None
    names = distinct.tolist()
    if len(names) * 4 > len(col) or not all(type(v) is str for v in names) or (codes < 0).any():
        return None
    width = np.int8 if len(names) <= 127 else np.int16 if len(names) <= 32767 else np.int32
    return names, codes.astype(width).tobytes()


def _codes_of(coded: tuple[list[str], bytes], n: int) -> np.ndarray:
    """The codes of a coded column of `n` values (1, 2 or 4 bytes a code: `_coded`)."""
    return np.frombuffer(coded[1], dtype={1: np.int8, 2: np.int16, 4: np.int32}[len(coded[1]) // n])


def _pack_wall(col: list | bytes | None) -> bytes | None:
    """Wall times as float64 bytes (NaN where a record has none: a non-number too), None when no
    record has one."""
    if col is None or isinstance(col, bytes):  # none, or packed already
        return col
    if col.count(None) == len(col):  # the usual file: no wall time (counted without a Python loop)
        return None
    times = np.array([w if type(w) in _NUMBERS else math.nan for w in col], dtype="float64")
    return times.tobytes() if not np.isnan(times).all() else None


def packed_len(cols: tuple) -> int:
    """How many records a file's (packed) columns hold."""
    value = cols[_VALUE]
    return len(value) // 8 if isinstance(value, bytes) else len(value)


def column(col: list | tuple | bytes, n: int, i: int) -> list:
    """Column `i` of a file's packed columns as a list of `n` values."""
    if col is None:  # no wall time
        return [None] * n
    if isinstance(col, bytes):
        return np.frombuffer(col, dtype="int64" if i == _STEP else "float64").tolist()
    if isinstance(col, tuple):
        if len(col) == 2:  # coded strings (`_coded`)
            return np.array(col[0], dtype=object)[_codes_of(col, n)].tolist()
        return [col[0]] * n
    return col


def unpack(cols: tuple) -> tuple[list, ...]:
    """A file's columns as lists, from their packed (or plain) form."""
    n = packed_len(cols)
    return tuple(column(c, n, i) for i, c in enumerate(cols))


def finite_values(cols: tuple[list, ...]) -> int:
    """The one rule for values, whatever the reader: NaN, inf, -inf and numbers beyond float
    range (1e400 parses as inf) become missing values (NaN), as an absent evaluation is; returns
    how many values were non-finite numbers (reported once per file). Explicit missing markers
    (null, "N/A": `readers.MISSING`) are missing values too, but expected, so not counted."""
    values = cols[Record._fields.index("value")]
    try:  # one pass in numpy finds the few values to look at
        suspects = np.flatnonzero(~np.isfinite(np.array(values, dtype="float64"))).tolist()
    except (TypeError, ValueError, OverflowError):  # not all plain numbers: look at every value
        suspects = range(len(values))
    bad = 0
    for i in suspects:
        v = values[i]
        if v is MISSING:
            continue
        try:
            ok = math.isfinite(v)
        except (TypeError, OverflowError):  # an int beyond float range, or not a number at all
            ok = False
        if not ok:
            values[i] = math.nan
            bad += 1
    return bad


def values_note(count: int) -> str:
    return (f"{count} value{'' if count == 1 else 's'} not a finite number (NaN, Infinity or out of "
            "range), read as missing")


def _parse_chunk(items: list[tuple[str, str]], root: Path, config: Config) -> list[tuple]:
    """Parse files in a worker process: [(path, reader)] -> [column-wise outcome].

    An outcome is `("ok", columns, note, partial)` (note: "" or what `values_note` says; partial: ""
    or which lines a reader left out, see `PartialRead`) or `("error", reason)`.
    A reader that fails on a mangled file in a way it did not foresee names the file too: one
    odd file must not end the run."""
    readers = all_readers()
    out = []
    for path, rname in items:
        info = readers[rname]
        try:
            cols = columnar((info.columns or info.read)(Path(path), root, config))
            partial = ""
        except PartialRead as exc:  # the good part is kept; the message names what was left out
            cols, partial = columnar(exc.records), str(exc)
        except EvalFileError as exc:
            out.append(("error", str(exc)))
            continue
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError, UnicodeError) as exc:
            out.append(("error", f"{path}: cannot read ({rname} reader: {type(exc).__name__}: {exc})"))
            continue
        bad = finite_values(cols)
        out.append(("ok", pack(cols), values_note(bad) if bad else "", partial))
    return out


def _parse_many(items: list[tuple[Path, str]], root: Path, config: Config,
                pool: Executor | None) -> dict[str, tuple]:
    """Parse files (in the pool when there are enough to be worth shipping); path -> outcome."""
    jobs = [(str(p), r) for p, r in items]
    if pool is None or len(jobs) < _PARALLEL_MIN:
        return dict(zip((p for p, _ in jobs), _parse_chunk(jobs, root, config)))
    n = max(1, len(jobs) // 16)
    chunks = [jobs[i:i + n] for i in range(0, len(jobs), n)]
    out: dict[str, tuple] = {}
    for chunk, outcomes in zip(chunks, pool.map(_parse_chunk, chunks, [root] * len(chunks),
                                                [config] * len(chunks))):
        out.update(zip((p for p, _ in chunk), outcomes))
    return out


def _typed_frame(columns: list[list]) -> pd.DataFrame:
    """The tidy frame from its column lists, dtypes given rather than inferred (faster)."""
    try:
        return pd.DataFrame({c: np.array(v, dtype="int64") if c == "step" else
                             np.array(v, dtype="float64") if c == "value" else pd.array(v, dtype="str")
                             for c, v in zip(COLUMNS, columns)})
    except (TypeError, ValueError):  # an odd value from a reader: let pandas infer, as before
        return pd.DataFrame(dict(zip(COLUMNS, columns))).astype({"step": "int64", "value": "float64"})


_ORDER = ["experiment", "condition", "task", "metric", "statistic", "step"]  # the tidy table's row order


_KEY = ["experiment", "condition", "task", "step", "metric", "statistic"]  # one number per key


def _source_rank(source: str) -> tuple[int, int, int]:
    """Which file's copy of a repeated record is kept (the highest): a JSON file before a
    TensorBoard one (float32), the run's own file before a `checkpoint-<N>/` copy, a later
    checkpoint before an earlier one (it holds the longer history)."""
    parts = source.split("/")
    checkpoint = next((int(m.group(1)) for p in reversed(parts[:-1]) if (m := CHECKPOINT.match(p))), None)
    return ("tfevents" not in parts[-1], checkpoint is None, checkpoint or 0)


def _run_of(source: str) -> str:
    """The run folder a file belongs to: its folder, above any `checkpoint-<N>/` and a TensorBoard
    `runs/<name>/` folder. Copies are merged only within one run: the same experiment found in two
    folders is two runs (a seed clash to report, see analysis.seeds.check_seed_claims), not a copy."""
    parts = source.split("/")[:-1]
    if "tfevents" in source.rsplit("/", 1)[-1] and len(parts) >= 2 and parts[-2] == "runs":
        parts = parts[:-2]
    while parts and CHECKPOINT.match(parts[-1]):
        parts = parts[:-1]
    return "/".join(parts)


def _own_run(source: str) -> str:
    """The name that sets a file apart within its run folder: its `checkpoint-<N>` or `runs/<name>`
    folder, else the file's name without its extension."""
    parts = source.split("/")
    inner = parts[len(_run_of(source).split("/")) if _run_of(source) else 0:-1]
    return inner[-1] if inner else parts[-1].rsplit(".", 1)[0]


_DATED = re.compile(r"\d{4}-\d{2}-\d{2}(T[\d.:-]+)?")


def _rerun(source: str, kept: str) -> bool:
    """Whether two files of one run are the same result written twice: side by side, with the same
    name but for a date (`results_2024-08-21T04-27-29.json`, `results_2024-09-01T03-44-09.json`)."""
    a, b = source.rsplit("/", 1), kept.rsplit("/", 1)
    same_folder = (a[0] if len(a) > 1 else "") == (b[0] if len(b) > 1 else "")
    return same_folder and _DATED.sub("", a[-1]) == _DATED.sub("", b[-1])


def merge_repeats(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One record per key where a run's files repeat the same number: the copies in checkpoint
    folders, results files and event files of one run folder (`_run_of`) are merged, keeping the
    copy of the highest-ranked source (`_source_rank`). Copies agree to float32 precision (what an
    event file stores). A file whose numbers differ from the kept copy's is another training
    written into the same output folder (a second `runs/<name>` event file, a checkpoint of an
    earlier run): its records become a run of their own, `<run>/<checkpoint-N or runs name>`; a rerun of
    one result (`_rerun`) that disagrees is kept beside it: a conflict (utils/conflicts.py)."""
    frame, merged = _merge_once(frame)
    if frame.attrs.pop("other_runs", None):
        frame, more = _merge_once(frame)
        merged += more
    return frame, merged


def _merge_once(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    repeated = frame.duplicated(_KEY, keep=False)
    if not repeated.any():
        return frame, 0
    frame = plain(frame)  # sources are ranked and experiments renamed as strings below
    rows = frame[repeated]
    sources = rows["source"].unique()
    ranks = {s: _source_rank(s) for s in sources}
    order = sorted(ranks, key=ranks.__getitem__)
    runs = {s: _run_of(s) for s in sources}
    rows = rows.assign(_rank=rows["source"].map({s: i for i, s in enumerate(order)}).to_numpy(),
                       _run=rows["source"].map(runs).to_numpy())
    key = _KEY + ["_run"]
    rows = rows.sort_values(key + ["_rank"], kind="stable")
    kept = rows.groupby(key, sort=False)["value"].transform("last").to_numpy(dtype="float64")
    value = rows["value"].to_numpy(dtype="float64")
    same = np.isclose(value, kept, rtol=1e-6, atol=0.0) | (np.isnan(value) & np.isnan(kept))
    last = ~rows.duplicated(key, keep="last").to_numpy()
    dropped = rows.index[same & ~last]
    if WALL_TIME in rows.columns:  # a kept copy without a time takes the earliest of the copies agreeing with it
        times = rows.assign(_w=rows[WALL_TIME].where(same)).groupby(key, sort=False)["_w"].transform("min")
        fill = last & rows[WALL_TIME].isna().to_numpy() & times.notna().to_numpy()
        if fill.any():
            frame = frame.copy()
            frame.loc[rows.index[fill], WALL_TIME] = times.to_numpy()[fill]
    top = rows.groupby(key, sort=False)["source"].transform("last").to_numpy()
    src = rows["source"].to_numpy()
    # other files disagreeing with the kept copy are other trainings written into the same output folder,
    # except a rerun of the same result (the same file name but for its date: lm-eval run twice), a
    # conflict kept for utils/conflicts.py to say and decide
    differ = ~same & (src != top)
    other = {s for s, t in set(zip(src[differ], top[differ])) if not _rerun(s, t)}
    frame = frame.drop(index=dropped)
    if other:
        frame = frame.copy()
        mine = frame["source"].isin(list(other))
        frame.loc[mine, "experiment"] = [f"{e}/{_own_run(s)}" for e, s in zip(frame.loc[mine, "experiment"],
                                                                               frame.loc[mine, "source"])]
        frame = frame.reset_index(drop=True)
        frame.attrs["other_runs"] = sorted(other)
        return frame, len(dropped)
    return frame.reset_index(drop=True), len(dropped)


def _sorted_and_merged(blocks: list[tuple[tuple[list, ...], str]]) -> tuple[pd.DataFrame, int, bool]:
    """The tidy frame, rows in `_ORDER` (stable), repeated records merged; how many were; and
    whether it is built file by file (`frame_by_file`)."""
    frame = frame_by_file(blocks)
    if frame is not None:  # one file per experiment x condition x task: no record can repeat
        return frame, 0, True
    frame = _coded_frame(blocks)
    if frame is None:  # an odd value somewhere: the table from lists, its types inferred
        columns: list[list] = [[] for _ in COLUMNS]
        for cols, source in blocks:
            n = packed_len(cols)
            for i, (col, values) in enumerate(zip(columns[:-1], cols)):
                col.extend(column(values, n, i))
            columns[-1].extend([source] * n)
        frame = _typed_frame(columns)
        walls = _wall_times(blocks)
        if walls is not None:
            frame[WALL_TIME] = walls
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "step" else
                                          "float64" if c == "value" else "object") for c in COLUMNS}), 0, False
    if not (frame["step"].to_numpy() == NO_STEP).any():
        ordered = _sorted(frame)
        if _no_repeats(ordered):  # a log tree's 5 M records: 0.1 s, against 1.2 s looking for repeats unsorted
            return ordered, 0, False
        del ordered
    frame, merged = merge_repeats(frame)
    if (frame["step"].to_numpy() == NO_STEP).any():  # sorted once they are placed (place_stepless), by name
        return frame, merged, False
    return _sorted(frame), merged, False


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """The table in `_ORDER`, sorted as codes of sorted categories: the same order as the strings',
    without comparing them."""
    return categorical(frame).sort_values(_ORDER, kind="stable", ignore_index=True)


def _no_repeats(ordered: pd.DataFrame) -> bool:
    """No two records of the table, sorted by `_ORDER`, share a key (`_KEY`): no neighbours do. Only
    said of key columns that are categorical codes or integers (equal exactly as `duplicated` has it)."""
    same = np.ones(max(len(ordered) - 1, 0), dtype=bool)
    for name in _ORDER:
        column = ordered[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            values = codes_of(column)
        elif column.dtype.kind in "iu":
            values = column.to_numpy()
        else:
            return False
        same &= values[1:] == values[:-1]
        if not same.any():
            return True
    return not same.any()


def _coded_frame(blocks: list[tuple[tuple, str]]) -> pd.DataFrame | None:
    """The table of the blocks in their order, its labels as categorical codes straight from the
    packed columns (a log's metric names are coded already, `_coded`): no list of millions of
    strings. None when some block holds an odd value (a label not a string, a step beyond int64,
    a value not a plain number) or none holds a record, for the table to be built from lists."""
    lengths = [packed_len(cols) for cols, _ in blocks]
    if not sum(lengths):
        return None
    data: dict[str, Any] = {}
    for i, name in enumerate(COLUMNS[:-1]):
        if i == _VALUE:
            if not all(type(cols[i]) is bytes for cols, _ in blocks):
                return None
            data[name] = np.frombuffer(b"".join(cols[i] for cols, _ in blocks), dtype="float64")
        elif i == _STEP:
            try:
                data[name] = np.concatenate([np.frombuffer(cols[i], dtype="int64") if type(cols[i]) is bytes
                                             else np.array(cols[i], dtype="int64") for cols, _ in blocks])
            except (TypeError, ValueError, OverflowError):
                return None
        else:
            data[name] = _label_codes([cols[i] for cols, _ in blocks], lengths)
            if data[name] is None:
                return None
    data["source"] = _label_codes([(source,) for _, source in blocks], lengths)
    if data["source"] is None:
        return None
    walls = _wall_times(blocks)
    if walls is not None:
        data[WALL_TIME] = walls
    return pd.DataFrame(data, columns=list(data), copy=False)


def _label_codes(parts: list, lengths: list[int]) -> pd.Categorical | None:
    """One label column of the blocks (each packed: `(string,)`, coded or a list) as a categorical of
    its sorted distinct strings; None when some value is not a string."""
    ids: dict[str, int] = {}
    pieces = []
    for col, n in zip(parts, lengths):
        if not n:
            continue
        if isinstance(col, tuple) and len(col) == 2:  # coded: its few strings looked up, its codes mapped
            lut = np.array([ids.setdefault(v, len(ids)) for v in col[0]], dtype=np.int64)
            pieces.append(lut[_codes_of(col, n)])
        elif isinstance(col, tuple):
            pieces.append(np.full(n, ids.setdefault(col[0], len(ids)), dtype=np.int64))
        else:
            try:
                pieces.append(np.array([ids.setdefault(v, len(ids)) for v in col], dtype=np.int64))
            except TypeError:  # unhashable
                return None
    names = list(ids)
    cats = categories(names)
    if cats is None or len(cats) != len(names):  # a value that is not a string, or a missing one
        return None
    return pd.Categorical.from_codes(cats.get_indexer(names)[np.concatenate(pieces)], dtype=pd.CategoricalDtype(cats))


def frame_by_file(blocks: list[tuple[tuple[list, ...], str]]) -> pd.DataFrame | None:
    """The sorted frame without sorting the whole table, for the usual tree: each file holds one
    experiment x condition x task, and no two files the same one. Then the full stable sort is
    the files ordered by that key, each file's rows ordered by (metric, statistic, step); files
    repeat a few layouts, so a layout's row order is worked out once. None when the tree is not
    like that (or a value is not a plain str/int), for the full sort to do it."""
    by_key: dict[tuple[str, str, str], int] = {}
    layouts: dict[tuple, list[tuple]] = {}  # cheap signature -> [(metric, statistic, layout)]
    names: dict[str, int] = {}  # metric and statistic names -> their index in `listed` (below)
    per_file: list[tuple] = []  # (layout, length) per block
    for i, (cols, _) in enumerate(blocks):
        experiment, condition, task, step, metric, statistic, value = cols[:_WALL]
        n = packed_len(cols)
        if n == 0:
            per_file.append((None, 0))
            continue
        # one experiment x condition x task per file (packed as one string each), plain numbers
        if not (type(experiment) is tuple and type(condition) is tuple and type(task) is tuple
                and type(step) is bytes and type(value) is bytes
                and type(experiment[0]) is str and type(condition[0]) is str and type(task[0]) is str):
            return None
        key = (experiment[0], condition[0], task[0])
        if key in by_key:
            return None
        by_key[key] = i
        metric, statistic = column(metric, n, 4), column(statistic, n, 5)
        try:  # files with the same layout share a bucket (the steps' bytes are cheap to hash)
            bucket = layouts.setdefault((step, metric[0], metric[-1], statistic[-1]), [])
        except TypeError:  # an unhashable value
            return None
        layout = None
        for m, st, lay in bucket:
            if m == metric and st == statistic:
                layout = lay
                break
        if layout is None:
            if not (all(type(v) is str for v in metric) and all(type(v) is str for v in statistic)):
                return None
            steps = np.frombuffer(step, dtype="int64").tolist()
            order = sorted(range(n), key=lambda j: (metric[j], statistic[j], steps[j]))
            layout = (np.array(order, dtype=np.intp),
                      np.array([names.setdefault(metric[j], len(names)) for j in order], dtype=np.intp),
                      np.array([names.setdefault(statistic[j], len(names)) for j in order], dtype=np.intp),
                      np.array([steps[j] for j in order], dtype="int64"))
            if len(bucket) < 8:  # bounded: a tree of all-different files just sorts each one
                bucket.append((metric, statistic, layout))
        per_file.append((layout, n))
    if not by_key:
        return None
    files = [by_key[k] for k in sorted(by_key)]
    offsets = np.cumsum([0] + [n for _, n in per_file])
    lengths = np.array([per_file[i][1] for i in files], dtype=np.intp)
    spread = _spreader([per_file[i][0] for i in files], lengths)
    rows = spread(0) + np.repeat(offsets[files], lengths)
    value = np.frombuffer(b"".join(cols[_VALUE] for cols, _ in blocks), dtype="float64")[rows]
    which = np.repeat(np.arange(len(files)), lengths)

    def per_row(pick: list[str]) -> pd.Categorical:
        """A value per file (in `files` order) -> the column of its rows, as category codes."""
        cats = categories(pick)
        return pd.Categorical.from_codes(cats.get_indexer(pick)[which], dtype=pd.CategoricalDtype(cats))

    keys = sorted(by_key)
    listed = np.array(list(names), dtype=object)

    def named(pick: int) -> pd.Categorical:
        """Metric (1) or statistic (2) names of every row, as category codes of the names used."""
        at = spread(pick)  # indices into `names`
        cats = categories(listed[used_codes(at, len(listed))])
        return pd.Categorical.from_codes(cats.get_indexer(listed)[at], dtype=pd.CategoricalDtype(cats))

    data = {
        "experiment": per_row([k[0] for k in keys]),
        "condition": per_row([k[1] for k in keys]),
        "task": per_row([k[2] for k in keys]),
        "step": spread(3),
        "metric": named(1),
        "statistic": named(2),
        "value": value,
        "source": per_row([blocks[i][1] for i in files]),
    }
    walls = _wall_times(blocks)
    if walls is not None:
        data[WALL_TIME] = walls[rows]
    return pd.DataFrame(data, columns=COLUMNS + [WALL_TIME] if walls is not None else COLUMNS, copy=False)


def _spreader(layouts: list[tuple], lengths: np.ndarray) -> Callable[[int], np.ndarray]:
    """part -> the files' layouts' `part` arrays end to end, in file order. A layout most files share
    is put in place for all of them at once, not one small array a file."""
    ids: dict[int, int] = {}
    which = np.array([ids.setdefault(id(lay), len(ids)) for lay in layouts], dtype=np.intp)
    shared = list({id(lay): lay for lay in layouts}.values())  # in order of first use, as `ids`
    if len(shared) * 8 > len(layouts):  # mostly their own layouts: end to end is as quick
        return lambda part: np.concatenate([lay[part] for lay in layouts])
    starts = np.cumsum(lengths) - lengths
    by_layout = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[by_layout], np.arange(len(shared) + 1))

    def spread(part: int) -> np.ndarray:
        out = np.empty(int(lengths.sum()), dtype=shared[0][part].dtype)
        for k, lay in enumerate(shared):
            files = by_layout[bounds[k]:bounds[k + 1]]
            out[(starts[files][:, None] + np.arange(len(lay[part]))).ravel()] = np.tile(lay[part], len(files))
        return out
    return spread


def _wall_times(blocks: list[tuple[tuple, str]]) -> np.ndarray | None:
    """Every record's wall time (NaN where it has none), the blocks' records in order; None when
    no record has one (the frame then has no wall time column)."""
    walls = [cols[_WALL] if len(cols) > _WALL else None for cols, _ in blocks]
    if all(w is None for w in walls):
        return None
    return np.concatenate([np.frombuffer(w, dtype="float64") if w is not None else
                           np.full(packed_len(cols), math.nan) for w, (cols, _) in zip(walls, blocks)])


def load(root: Path, config: Config, cache: ParseCache | None = None,
         pool: Executor | None = None, listing: list[tuple] | None = None) -> LoadResult:
    """Read every evaluation file under root into one tidy long DataFrame (see COLUMNS).

    With a process `pool`, the files not in the cache are parsed in parallel (cold runs).
    `listing`: the files under root with their size and mtime as `utils.walk.stat_files` listed
    them just before (the run's input stamp): then root is neither walked nor stat'ed again."""
    cache = cache if cache is not None else ParseCache()
    files, left = _discover(root, config, listing)
    stats = {full: Stat(size, mtime) for full, _, size, mtime in listing if size is not None} if listing else {}
    result = LoadResult(frame=pd.DataFrame(columns=COLUMNS), paths=[])
    statuses: list[FileStatus] = [_left_status(root, rel) for rel in left]
    todo: list[Todo] = []
    skip = set(config.skip)
    for rel, full, rname in files:
        if skip and not skip.isdisjoint(rel.split("/")[:-1]):
            result.skipped.append(Path(full))
            statuses.append(FileStatus(rel, rname, 0, SKIPPED, "in a folder listed under data.skip"))
            continue
        result.paths.append(full)
        try:
            st = stats.get(full) or os.stat(full)
        except OSError as exc:  # deleted between discovery and reading
            result.problems.append(Problem(Path(full), f"cannot stat: {exc.strerror}"))
            statuses.append(FileStatus(rel, rname, 0, UNREADABLE, f"cannot stat: {exc.strerror}"))
            continue
        todo.append((full, rname, rel, st, cache.get(full, rname, st)))
    blocks: list[tuple[tuple[list, ...], str]] = []
    for (full, rname, source, _, _), outcome in zip(todo, outcomes(todo, root, config, cache, pool, result)):
        status, block = account(full, rname, source, outcome, result)
        statuses.append(status)
        if block is not None:
            blocks.append(block)
    cache.prune({full for _, full, _ in files})
    frame, result.merged, by_file = _sorted_and_merged(blocks)
    frame, placed = place_stepless(frame)
    result.merged += placed
    result.by_file = by_file and not placed
    if result.merged:
        log.info("%d record(s) repeated in another file (checkpoint copies of trainer_state.json, results "
                 "files, event files) merged: each number is kept once", result.merged)
    result.frame = categorical(frame)  # the repeated strings as codes (utils/labels.py)
    statuses.sort(key=lambda f: f.path.split("/"))  # Path order (by parts), without a Path per file
    result.statuses = statuses
    _log_statuses(statuses)
    if result.skipped:
        log.info("skipped %d file(s) in folders listed under data.skip (%s)", len(result.skipped),
                 ", ".join(config.skip))
    return result


def outcomes(todo: list[Todo], root: Path, config: Config, cache: ParseCache, pool: Executor | None,
             result: LoadResult) -> list[tuple]:
    """Each file's outcome, in `todo`'s order: the cached one, else what the file reads as now
    (stored in the cache; the file noted in `result.parsed`, a log read on from where it stopped
    in `result.tailed`)."""
    readers = all_readers()
    tailed: dict[str, tuple] = {}
    for full, rname, _, st, outcome in todo:  # append-only logs that only grew: read from where they stopped
        grown = cache.tail_of(full, rname, st) if outcome is None and readers[rname].tail is not None else None
        if grown is not None:
            tailed[full] = _read_tail(Path(full), root, config, readers[rname], *grown)
            result.tailed[full] = (grown[0], st.st_size - grown[0])
    anew = {f: Path(f) for f, _, _, _, o in todo if o is None and f not in tailed}
    fresh = _parse_many([(anew[f], r) for f, r, _, _, o in todo if f in anew], root, config, pool)
    out = []
    for full, rname, _, st, outcome in todo:
        if outcome is None:
            path = Path(full)
            new = tailed.get(full) or fresh[str(anew[full])]
            info = readers[rname]
            mark = (_tail_mark(path, st.st_size, info.tail_end, result.tailed.get(full, (0,))[0])
                    if info.tail is not None and new[0] == "ok" else None)
            outcome = cache.put(full, rname, st, new, mark)
            result.parsed.append(path)
        out.append(outcome)
    return out


def account(full: str, rname: str, source: str, outcome: tuple,
            result: LoadResult) -> tuple[FileStatus, tuple[tuple, str] | None]:
    """A file's outcome accounted for: its status (tables/files.csv), its problem, values note or
    partial read added to `result`, and its block of records (None when it gave none)."""
    if outcome[0] == "error":
        result.problems.append(Problem(Path(full), outcome[1]))
        return FileStatus(source, rname, 0, LFS if LFS_MARK in outcome[1] else UNREADABLE,
                          _short(outcome[1], Path(full))), None
    why = []
    if len(outcome) > 2 and outcome[2]:
        result.notes.append(Problem(Path(full), outcome[2]))
        why.append(outcome[2])
    if len(outcome) > 3 and outcome[3]:  # read in part: said every run, as long as the file stays so
        result.partial.append(Problem(Path(full), outcome[3]))
        log.warning("read in part: %s", outcome[3])
        why.append(_short(outcome[3], Path(full)))
    count = packed_len(outcome[1])
    status = FileStatus(source, rname, count, READ if count else EMPTY, "; ".join(why) if count else
                        "the reader found no numbers in it (nothing logged yet, or only bookkeeping)")
    return status, (outcome[1], source)


LFS_MARK = "a Git LFS pointer"
_POINTER_MIN, _POINTER_MAX = 120, 512  # version + oid lines alone are 119 bytes


def _short(message: str, path: Path) -> str:
    """A reader's message without the leading path (files.csv has it in its own column)."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _left_status(root: Path, rel: str) -> FileStatus:
    """A file no reader took: a Git LFS pointer (whatever its type) or not an evaluation file."""
    full = os.path.join(root, rel)
    try:  # a pointer is ~130 bytes: other sizes are not opened (a tree is mostly weights and tokenizers)
        small = _POINTER_MIN <= os.stat(full).st_size <= _POINTER_MAX
    except OSError:
        small = False
    path = Path(full) if small else root
    if small and head(path, len(LFS_POINTER)) == LFS_POINTER:
        return FileStatus(rel, "", 0, LFS, _short(lfs_pointer_message(path) or "", path))
    return FileStatus(rel, "", 0, NOT_EVAL, "no reader recognises it by name and content (docs/formats.md)")


_EXAMPLES = 3  # files named per status in the log


def _log_statuses(statuses: list[FileStatus]) -> None:
    """One line with the count of files per status, then a few files of each status but `read`."""
    if not statuses:
        return
    by: dict[str, list[FileStatus]] = {}
    for f in statuses:
        by.setdefault(f.status, []).append(f)
    log.info("files under the data root: %s (each with its reason in tables/files.csv)",
             ", ".join(f"{len(by[s])} {s}" for s in STATUSES if s in by))
    for status in (EMPTY, UNREADABLE, LFS, NOT_EVAL):
        if status in by:
            some = by[status][:_EXAMPLES]
            more = f" and {len(by[status]) - len(some)} more" if len(by[status]) > len(some) else ""
            log.info("%s: %s%s", status, ", ".join(f.path for f in some), more)


def place_stepless(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """File each number its file gave no step (`NO_STEP`: a final summary) once: at the step where
    its run has the same number (the evaluation it repeats; the copies then merge as any repeat,
    keeping the better source), else at the run's last step (its final value), at 0 only for a run
    with no steps at all. Returns the frame and how many copies were merged."""
    steps = frame["step"].to_numpy()
    loose_mask = steps == NO_STEP
    if not loose_mask.any():
        return frame, 0
    keys = ["experiment", "condition", "task", "metric", "statistic"]
    frame = plain(frame)  # a run's last step is mapped by name below (the by-file frame comes coded)
    loose, fixed = frame[loose_mask], frame[~loose_mask]
    pairs = loose.reset_index().merge(fixed[keys + ["step", "value"]], on=keys, suffixes=("", "_at"))
    same = np.isclose(pairs["value"].to_numpy(dtype="float64"), pairs["value_at"].to_numpy(dtype="float64"),
                      rtol=1e-6, atol=0.0)
    repeats = pairs[same].groupby("index")["step_at"].max()
    last = fixed.groupby("experiment", sort=False)["step"].max()
    at = loose["experiment"].map(last).fillna(0).astype("int64")
    at.loc[repeats.index] = repeats.to_numpy()
    out = pd.concat([fixed, loose.assign(step=at.to_numpy())], ignore_index=True)
    out, merged = merge_repeats(out)
    return out.sort_values(_ORDER, kind="stable", ignore_index=True), merged


_CHECK = 32  # bytes before a log's read offset that must be unchanged for it to be read on from there


def _line_end(fh: BinaryIO, size: int, start: int = 0) -> int | None:
    """The offset after the last complete line among the first `size` bytes (a newline in the last
    64 KiB; `start` is not needed), or None: the default end of a log's last complete unit."""
    begin = max(0, size - 65536)
    fh.seek(begin)
    end = fh.read(size - begin).rfind(b"\n")
    return begin + end + 1 if end >= 0 else None


def _tail_mark(path: Path, size: int, end: Callable[[BinaryIO, int, int], int | None] | None = None,
               start: int = 0) -> tuple[int, bytes] | None:
    """(offset after the last complete unit, the bytes before it) of an append-only log. `end`: the
    reader's own "end of the last complete unit" (`ReaderInfo.tail_end`: an event file's last
    record), walking from `start`, a unit boundary; the last complete line by default."""
    try:
        with open(path, "rb") as fh:
            offset = (end or _line_end)(fh, size, start)
            if not offset:
                return None
            fh.seek(max(0, offset - _CHECK))
            return offset, fh.read(offset - max(0, offset - _CHECK))
    except OSError:
        return None


def _read_tail(path: Path, root: Path, config: Config, info: ReaderInfo, offset: int, cached: tuple) -> tuple:
    """The outcome of a grown log: its cached records, then those of the lines after `offset` (a
    step logged again keeps the later value)."""
    try:
        new = info.tail(path, root, config, offset)
    except EvalFileError as exc:
        return ("error", str(exc))
    fresh = columnar(new)
    finite_values(fresh)
    rows: dict[tuple, tuple] = {}
    for cols in (unpack(cached[1]), fresh):
        for rec in zip(*cols):
            rows[rec[:6]] = rec[6:]  # the value and its wall time
    merged = [Record(*key, *rest) for key, rest in rows.items()]
    return ("ok", pack(columnar(merged)), *cached[2:])
