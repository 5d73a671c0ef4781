"""Pluggable readers: one per evaluation file format, each turning a file into tidy records.

A reader is a function decorated with `@reader("name")` that takes (path, root, config) and
returns a list of `Record`s; it raises `EvalFileError` for a file it cannot read. Reader modules
in this package are found by scanning it, so a new format is one new file here.
"""
from __future__ import annotations

import fnmatch
import functools
import importlib
import itertools
import json
import math
import pkgutil
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable, NamedTuple

from utils.config import Config, ReaderRule
from utils.errors import EvalFileError


class Record(NamedTuple):
    """One number from one evaluation file: the row of the tidy table minus its source. `wall_time`:
    when it was logged, in seconds since the Unix epoch (UTC), where the file says (`to_wall_time`)."""

    experiment: str
    condition: str
    task: str
    step: int
    metric: str
    statistic: str
    value: float
    wall_time: float | None = None


class Columns(NamedTuple):
    """Records as one list per `Record` field: what a reader's `columns` hook returns, the form the
    loader keeps them in (a sweep file's ~55 records without a tuple each)."""

    experiment: list[str]
    condition: list[str]
    task: list[str]
    step: list[int]
    metric: list[str]
    statistic: list[str]
    value: list[float]
    wall_time: list[float | None] | None = None  # None: the file gives no wall time

    def records(self) -> list[Record]:
        """The same records, one `Record` each."""
        return list(itertools.starmap(Record, zip(*(self if self.wall_time is not None else self[:-1]))))


class PartialRead(EvalFileError):
    """A file read in part: `records` are the good ones (as `Columns` from a reader's `columns` hook),
    the message names what was left out (a JSON Lines line cut mid-write). The loader keeps the
    records and logs the message."""

    def __init__(self, message: str, records: list[Record] | Columns) -> None:
        super().__init__(message)
        self.records = records


ReadFn = Callable[[Path, Path, Config], list[Record]]


@dataclass(frozen=True)
class ReaderInfo:
    name: str
    read: ReadFn
    description: str
    sniff: Callable[[Path], bool] | None = None
    # rules.yaml `readers[].experiment` values the reader honours; the first is its default.
    experiment_from: tuple[str, ...] = ()
    # a cheap test on the file name alone: False means the sniffer would say no (not even called)
    accepts: Callable[[str], bool] | None = None
    # a reader by content alone (flat and nested JSON): offered a file after every other reader
    fallback: bool = False
    # append-only logs: tail(path, root, config, start) reads the complete units (lines; an event
    # file's records) from byte `start` (a unit boundary) on, so a growing log is read from where the
    # last read stopped
    tail: Callable[[Path, Path, Config, int], list[Record]] | None = None
    # the same records as `read`, straight into columns (faster for formats of many small files)
    columns: Callable[[Path, Path, Config], Columns] | None = None
    # where a log's last complete unit ends: tail_end(open binary file, size, start) -> the offset after
    # the last complete unit among the first `size` bytes, walking from `start` (a unit boundary), or
    # None; None here: the end of the last complete line (utils.loading)
    tail_end: Callable[[BinaryIO, int, int], int | None] | None = None


_READERS: dict[str, ReaderInfo] = {}


def reader(name: str, description: str = "", sniff: Callable[[Path], bool] | None = None,
           experiment_from: tuple[str, ...] = (), accepts: Callable[[str], bool] | None = None,
           fallback: bool = False, tail: Callable | None = None,
           columns: Callable | None = None, tail_end: Callable | None = None) -> Callable[[ReadFn], ReadFn]:
    """Register a reader under `name` (the value used in rules.yaml `readers[].reader`).

    `accepts(file name)`: an optional cheap test run before `sniff`, so that a tree of weights and
    tokenizer files is passed over without opening them. `fallback`: sniffed after the others."""
    def register(fn: ReadFn) -> ReadFn:
        _READERS[name] = ReaderInfo(name, fn, description or (fn.__doc__ or "").strip(), sniff,
                                    tuple(experiment_from), accepts, fallback, tail, columns, tail_end)
        return fn
    return register


def all_readers() -> dict[str, ReaderInfo]:
    """Every reader in this package, by name."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return dict(_READERS)


STATISTICS = ("mean", "std", "sem", "stderr", "median", "min", "max", "count", "var")


@functools.lru_cache(maxsize=8192)  # a sweep repeats the same few dozen keys in every file
def split_metric_key(key: str) -> tuple[str, str]:
    """`eval_distance_metric_mean` -> ("distance_metric", "mean"); no known suffix -> "value"."""
    name = key[5:] if key.startswith("eval_") else key
    for stat in STATISTICS:
        if name.endswith("_" + stat):
            return name[: -len(stat) - 1], stat
    return name, "value"


# --- helpers shared by the readers ----------------------------------------------------------

# Keys that record how an evaluation ran, not how well: memory (the Trainer's eval_mem_*), runtime,
# throughput, sample counts (lm-eval's sample_len, sample_count), epochs, FLOPs. The one list.
_SEP, _END = r"(?:^|[_\-,@.\s/])", r"(?:$|[_\-,@.\s/\d])"
BOOKKEEPING = re.compile(_SEP + r"(mem|runtime|samples_per_second|steps_per_second|sample_len|sample_count|samples|"
                         r"epoch|epochs|total_flos|flos|jit_compilation_time|model_preparation_time|num_tokens|"
                         r"num_input_tokens_seen|n_parameters|num_parameters|time|data_time|eta_seconds|timestamp|"
                         r"time_this_iter_s|time_total_s|time_since_restore|iterations_since_restore|pid|done|"
                         r"global_step|current_steps|total_steps|training_iteration|support)" + _END)
_AGGREGATE = re.compile(r"_(step|epoch)$")  # Lightning's on_step/on_epoch copies: `train_loss_epoch`


# What data a number was computed on, the `condition` of records that are not the sweep's own
# (standard/atlantis come from rules.yaml): training, the evaluation set, a named evaluation set
# (`eval_<set>`), the test/predict set.
TRAIN, EVAL, TEST = "train", "eval", "test"
_SPLIT_PREFIX = re.compile(r"^(train|training|trn|val|valid|validation|eval|evaluation|dev|test|testing|predict|"
                           r"metrics)(?:[_/\-.\s]+)(.+)$", re.IGNORECASE)
_SPLIT_SUFFIX = re.compile(r"^(.+?)(?:[_/\-.\s]+)(train|training|val|valid|validation|eval|dev|test)$", re.IGNORECASE)
_SPLIT_OF = {"train": TRAIN, "training": TRAIN, "trn": TRAIN, "val": EVAL, "valid": EVAL, "validation": EVAL,
             "eval": EVAL, "evaluation": EVAL, "dev": EVAL, "metrics": EVAL, "test": TEST, "testing": TEST,
             "predict": TEST}


def split_of(name: str, default: str) -> tuple[str, str]:
    """(condition, metric) of a logged name by its split marker: `val_loss`, `val/loss`, `eval_loss`
    -> ("eval", "loss"); `train/box_loss` -> ("train", "box_loss"); `test_acc1` -> ("test", "acc1");
    `loss_val` -> ("eval", "loss"); Ultralytics' `metrics/mAP50(B)` (validation) -> ("eval", ...).
    A name without a marker keeps `default` (a training log's numbers are training numbers, a
    summary's are evaluation numbers)."""
    m = _SPLIT_PREFIX.match(name)
    if m and not (m.group(1).lower() == "metrics" and m.group(0)[len(m.group(1))] != "/"):
        return _SPLIT_OF[m.group(1).lower()], m.group(2)
    m = _SPLIT_SUFFIX.match(name)
    if m:
        return _SPLIT_OF[m.group(2).lower()], m.group(1)
    return default, name


@functools.lru_cache(maxsize=16384)  # logs repeat the same few dozen names on every line
def is_bookkeeping(name: str) -> bool:
    """Is a metric name (without `eval_`) bookkeeping rather than an evaluation metric? A name
    ending in `_epoch`/`_step` (Lightning's per-epoch and per-step copies) is judged without it."""
    lowered = name.lower()
    found = BOOKKEEPING.search(lowered)
    if found is None:
        return False
    m = _AGGREGATE.search(lowered)
    if m and m.start() > 0 and found.group(1) == m.group(1):  # only the suffix matched: judge the rest
        return bool(BOOKKEEPING.search(lowered[:m.start()]))
    return True


CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# The step of a number its file gives none for (a final summary): the loader files it at the step of
# the run whose values it repeats, else as the run's final value (its last step), never at 0 while
# the run has steps (utils.loading.place_stepless).
NO_STEP = -1
NA_STRINGS = frozenset({"nan", "n/a", "na", "null", "none"})
# The value of an explicit missing marker (null, "N/A", "nan"): this very NaN object. The loader
# tells it apart by identity and does not report it (lm-eval writes "N/A" for most stderrs);
# other non-finite numbers (NaN and Infinity literals, 1e400) are reported per file.
MISSING = math.nan


def to_value(raw: Any) -> float | None:
    """A metric value: numbers as floats; null, "NaN", "nan", "N/A" as NaN (`MISSING`); numeric
    strings parsed. Non-finite numbers pass through: the loader makes them missing and reports them.

    None means "not a metric" (other strings, booleans, lists, objects) and the caller skips it.
    """
    if isinstance(raw, bool):
        return None
    if raw is None:
        return MISSING
    if isinstance(raw, (int, float)):
        try:
            return float(raw)
        except OverflowError:  # an integer beyond float range: out of range, as 1e400 is
            return math.inf if raw > 0 else -math.inf
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in NA_STRINGS:
            return MISSING
        try:
            return float(text)
        except ValueError:
            return None
    return None


# A logged time is a wall time when it is seconds since the Unix epoch within these bounds (2001-09-09
# to the year 5138): smaller numbers are durations or seconds since the start (detectron2's `time`, Ray's
# `time_total_s`), not the time of day they were logged at.
WALL_MIN, WALL_MAX = 1e9, 1e11


def to_wall_time(raw: Any, naive_utc: bool = False) -> float | None:
    """Seconds since the Unix epoch (UTC) of a logged time, or None when it is not a wall time: a
    number (or numeric string) within `WALL_MIN`..`WALL_MAX`, or an ISO 8601 string with its UTC offset
    (`2024-04-30T12:39:46Z`); a string without an offset only with `naive_utc` (Sacred writes UTC),
    since its time zone is otherwise unknown."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, str):
        try:
            seconds = float(raw)
        except ValueError:
            seconds = _iso_seconds(raw.strip(), naive_utc)
    elif isinstance(raw, (int, float)):
        try:
            seconds = float(raw)
        except OverflowError:
            return None
    else:
        return None
    return seconds if seconds is not None and WALL_MIN <= seconds <= WALL_MAX else None


def _iso_seconds(text: str, naive_utc: bool) -> float | None:
    """Seconds since the epoch of an ISO 8601 date and time; None without an offset (unless
    `naive_utc`) or when it is not one."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        if not naive_utc:
            return None
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def to_step(raw: Any) -> int | None:
    """A checkpoint step from an int, an integral float or a numeric string; None if it is not one."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    value = to_value(raw)
    if value is None or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def glob_matches(rel: str, pattern: str) -> bool:
    """Does a root-relative posix path match a rules.yaml glob? `*` stays within one folder
    level unless the glob has `**`."""
    return fnmatch.fnmatchcase(rel, pattern) and ("**" in pattern or rel.count("/") == pattern.count("/"))


def rule_for(path: Path, root: Path, config: Config) -> ReaderRule | None:
    """The rules.yaml `readers` entry that picked this file (the first whose glob matches)."""
    rel = path.relative_to(root).as_posix()
    return next((r for r in config.readers if glob_matches(rel, r.glob)), None)


def experiment_mode(path: Path, root: Path, config: Config, name: str) -> str:
    """Where reader `name` takes this file's experiment from: its rule's `experiment`, else its default."""
    rule = rule_for(path, root, config)
    if rule is not None and rule.experiment:
        return rule.experiment
    modes = _READERS[name].experiment_from
    if rule is None and "run" in modes and modes[0] == "top":
        return "run"  # a file no rule names (sniffed): its run folder, so nested runs stay apart
    return modes[0]


def folder_experiment(path: Path, root: Path, mode: str, config: Config | None = None) -> str:
    """The experiment a file belongs to, named by a folder.

    top: the folder right under the data root (the layout `<root>/<experiment>/...`).
    run: the folder holding the file, or above it past a `checkpoint-<N>` folder and (given the
    config) a folder named for a condition (`atlantis/`, `atlantis_eval/`).
    A file lying directly in the data root belongs to the root folder's own name in both modes (the
    run above it when the root is a `checkpoint-<N>` folder).
    """
    rel = path.relative_to(root)
    if mode == "top" and len(rel.parts) > 1:
        return rel.parts[0]
    folder = path.resolve().parent
    top = root.resolve()
    if mode == "run":
        while folder != top and (CHECKPOINT.match(folder.name) or _names_condition(folder.name, config)):
            folder = folder.parent
    while folder == top and CHECKPOINT.match(folder.name) and folder.parent != folder:
        folder = top = folder.parent  # --data at a run's checkpoint-<N>/ folder: the run is the one above
    return folder.name


def _names_condition(folder: str, config: Config | None) -> bool:
    return config is not None and any(folder == c.name or (c.prefix and folder.startswith(c.prefix))
                                      for c in config.conditions)


def default_condition(config: Config) -> str:
    """The condition of numbers that name none: the in-distribution one (else the first listed)."""
    cond = config.condition("in_distribution") or config.conditions[0]
    return cond.name


def split_condition(name: str, config: Config, by_name: bool = False) -> tuple[str | None, str]:
    """(condition, rest) when `name` starts with a condition's non-empty prefix, else (None, name);
    e.g. `atlantis_distance_metric_mean` -> ("atlantis", "distance_metric_mean"). With `by_name`,
    `<condition name>_` counts as a prefix too (`standard_distance...`)."""
    for prefix, cond in _prefixes(config.conditions, by_name):
        if name.startswith(prefix) and len(name) > len(prefix):
            return cond, name[len(prefix):]
    return None, name


@functools.lru_cache(maxsize=64)
def _prefixes(conditions: tuple, by_name: bool) -> tuple[tuple[str, str], ...]:
    """(prefix, condition) pairs, longest prefix first (computed once per rules)."""
    prefixes = [(c.prefix, c.name) for c in conditions if c.prefix]
    if by_name:
        prefixes += [(c.name + "_", c.name) for c in conditions]
    return tuple(sorted(prefixes, key=lambda pc: len(pc[0]), reverse=True))


def folder_condition(path: Path, root: Path, config: Config, skip: str = "") -> str | None:
    """A condition named by a folder between the root and the file: the condition's name itself
    (`.../atlantis/...`) or its non-empty prefix (`.../atlantis_eval/...`); `skip` is the
    experiment folder, whose name says nothing about the condition."""
    for part in path.relative_to(root).parts[:-1]:
        if part == skip:
            continue
        for cond in config.conditions:
            if part == cond.name or (cond.prefix and part.startswith(cond.prefix)):
                return cond.name
    return None


def find_task(metric: str, config: Config) -> str | None:
    """The longest task in rules.yaml that `metric` names: `distance_metric` -> `distance`."""
    tasks = config.tasks
    held = _TASK_CACHE.get(id(tasks))
    if held is None or held[0] is not tasks:  # the cache holds the mapping, so its id stays its own
        held = _TASK_CACHE[id(tasks)] = (tasks, {})
    found = held[1].get(metric, _UNSEEN)
    if found is _UNSEEN:
        hits = [t for t in tasks if metric == t or metric.startswith(t + "_")]
        found = held[1][metric] = max(hits, key=len) if hits else None
    return found


_UNSEEN = object()
_TASK_CACHE: dict[int, tuple] = {}  # id(config.tasks) -> (config.tasks, {metric: task})


def checkpoint_in_path(path: Path, root: Path) -> int | None:
    """N of the innermost `checkpoint-<N>` folder between the root and the file."""
    for part in reversed(path.relative_to(root).parts[:-1]):
        m = CHECKPOINT.match(part)
        if m:
            return int(m.group(1))
    return None


def read_json(path: Path) -> Any:
    """Parse a JSON file or raise EvalFileError naming the file and what is wrong.

    NaN and Infinity literals are allowed (Python's json writes them; the loader turns them into
    missing values); a UTF-8 byte-order mark is skipped; an empty file is "empty file"."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise EvalFileError(f"{path}: empty file")
    try:
        return json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalFileError(lfs_pointer_message(path) or f"{path}: not valid JSON (line {exc.lineno}: "
                            f"{exc.msg}); half-written or corrupt") from None
    except UnicodeDecodeError as exc:
        raise EvalFileError(f"{path}: not UTF-8 text (byte {exc.start}); not a JSON file?") from None
    except RecursionError:
        raise EvalFileError(f"{path}: JSON nested too deeply to be an evaluation file") from None


LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def lfs_pointer_message(path: Path) -> str | None:
    """The message for a Git LFS pointer (what a clone without git-lfs leaves in place of the
    file), or None when the file is not one."""
    if not head(path, 64).startswith(LFS_POINTER):
        return None
    return (f"{path}: a Git LFS pointer, not the file itself (the repository was cloned without "
            "git-lfs); run `git lfs pull` in that repository to fetch it")


def head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a file, for sniffing; empty when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""
