"""What the training-log readers share (not a reader itself): one row of a log (a CSV row, a JSON
line, a dict) into records keyed by run, condition, metric and step, the way TensorBoard's data
provider puts every back-end behind one time series per run and tag.

A row's step is its first step field (`step`, `global_step`, `iter`, `iteration`, `current_steps`,
`_step`, `training_iteration`, else `epoch`); a row without it (a config line, a "done" line) is not
a metric row. Every other field that is a number is a record: its condition is the split its name
marks (`val_loss` -> eval, `train/box_loss` -> train, `test_acc1` -> test, see `split_of`), a training
number when it marks none; bookkeeping (epoch, wall time, throughput, counts) is left out. A step
logged twice (a restart appends its steps again) keeps the later value.

A reader that names wall time fields (`row_records(wall=WALL_KEYS)`) gives each record the time its
row was logged: the first of those fields holding an epoch time (`to_wall_time`: seconds in a plausible
range, or an ISO 8601 string with its UTC offset). A relative time (seconds since the start, an
iteration's duration: detectron2's `time`, Ray's `time_total_s`) is not a wall time and is left out.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import TRAIN, Columns, Record, find_task, head, is_bookkeeping, split_of, to_step, to_value, to_wall_time

# Fields that may hold the time a row was logged (W&B's history `_timestamp`, Ray Tune's `timestamp`)
WALL_KEYS = ("wall_time", "_timestamp", "timestamp", "time")
STEP_KEYS = ("step", "global_step", "iter", "iteration", "current_steps", "_step", "training_iteration", "epoch")
_STEP_SET = frozenset(STEP_KEYS) | {"epoch", "Epoch", "Step"}


def step_key(fields: Iterable[str]) -> str | None:
    """The step field of a log whose rows have these fields (the first of `STEP_KEYS` present)."""
    names = {f.strip().lower(): f for f in fields}
    return next((names[k] for k in STEP_KEYS if k in names), None)


def row_records(rows: Iterable[Mapping[str, Any]], experiment: str, config: Config, default: str = TRAIN,
                key: str | None = None, drop: tuple[str, ...] = (),
                wall: tuple[str, ...] = ()) -> tuple[list[Record], int]:
    """Records of log rows (see the module docstring) and how many rows had no step. `key`: the
    step field (else found per row); `drop`: name prefixes that are not metrics (Ray's `config/`);
    `wall`: the fields that may hold the row's wall time (none: the records have no wall time)."""
    cols, stepless = row_columns(rows, experiment, config, default, key, drop, wall)
    return cols.records(), stepless


def row_columns(rows: Iterable[Mapping[str, Any]], experiment: str, config: Config, default: str = TRAIN,
                key: str | None = None, drop: tuple[str, ...] = (),
                wall: tuple[str, ...] = ()) -> tuple[Columns, int]:
    """`row_records` straight into columns, without a tuple a record (a log of 5,000 lines of five
    metrics is 25,000 records)."""
    rows = rows if isinstance(rows, list) else list(rows)
    fields = _by_field(rows, key, default, drop) if key is not None and not wall else None
    if fields is not None:
        conditions, metrics, steps, numbers = [], [], [], []
        for (condition, metric), column, at in fields:
            conditions += [condition] * len(column)
            metrics += [metric] * len(column)
            steps += at
            numbers += column
        times, stepless = None, 0
    else:
        conditions, metrics, steps, numbers, times, stepless = _by_row(rows, default, key, drop, wall)
    n = len(numbers)
    tasks = {metric: find_task(metric, config) or metric for metric in dict.fromkeys(metrics)}
    return Columns([experiment] * n, conditions, [tasks[m] for m in metrics], steps, metrics, ["value"] * n,
                   numbers, times), stepless


def _by_row(rows: list[Mapping[str, Any]], default: str, key: str | None, drop: tuple[str, ...],
            wall: tuple[str, ...]) -> tuple[list, list, list, list, list | None, int]:
    """`row_columns`' conditions, metrics, steps, values and wall times (None: none), and the number of
    rows without a step, read a row at a time."""
    values: dict[tuple[str, str, int], float] = {}
    walls: dict[tuple[str, str, int], float | None] = {}
    stepless = 0
    kinds: dict[Any, tuple[str, str] | None] = {}  # a field's (condition, metric), None if not a metric
    for row in rows:
        field = key if key is not None else step_key(row)
        step = to_step(row.get(field)) if field is not None else None
        if step is None:
            stepless += 1
            continue
        when = _row_wall_time(row, wall) if wall else None
        for name, raw in row.items():
            kind = kinds.get(name, _UNSEEN)
            if kind is _UNSEEN:  # each field name is looked at once per log, not once per row
                kind = kinds[name] = _field_kind(name, default, drop)
            if kind is None:
                continue
            if type(raw) is float:
                value = raw
            elif raw is None or isinstance(raw, str) and not raw.strip():
                continue  # an empty cell or a null: not logged on this row (Lightning's sparse rows)
            else:
                value = to_value(raw)
                if value is None:
                    continue
            at = (kind[0], kind[1], step)
            values[at] = value  # a repeated step (a restart) keeps the later value
            if wall:
                walls[at] = when  # the same keys in the same order as `values`
    conditions, metrics, steps = (list(c) for c in zip(*values)) if values else ([], [], [])
    times = list(walls.values()) if any(w is not None for w in walls.values()) else None
    return conditions, metrics, steps, list(values.values()), times, stepless


_UNSEEN = object()


def _by_field(rows: list[Mapping[str, Any]], key: str, default: str,
              drop: tuple[str, ...]) -> list[tuple[tuple[str, str], list[float], list[int]]] | None:
    """Each metric field's (condition, metric), values and steps, for a log whose every row has the
    same fields in the same order, a step no other row has, and a float in each metric field, no two
    fields naming one metric (a training log written by one `log()` call a step): read a field at a
    time, its column taken whole. These are `_by_row`'s records, field after field instead of row
    after row (the table's sort orders them). None for any other log: it is read row by row."""
    if not rows:
        return None
    fields = tuple(rows[0])
    if key not in fields or any(tuple(row) != fields for row in rows):
        return None
    steps = [to_step(row[key]) for row in rows]
    if None in steps or len(set(steps)) != len(steps):  # a step repeated (a restart): the later row wins
        return None
    out = []
    for name in fields:
        kind = _field_kind(name, default, drop)
        if kind is None:
            continue
        column = [row[name] for row in rows]
        if not all(type(v) is float for v in column):
            return None
        out.append((kind, column, steps))
    return out if len({kind for kind, _, _ in out}) == len(out) else None


def wall_field(rows: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The wall time field of a log whose first rows are these: the first of `WALL_KEYS` holding an epoch
    time on some row, as `row_records(wall=...)` takes it; () when none does (a relative `time`), so a
    log without wall times costs nothing per row."""
    rows = list(rows)
    return next(((k,) for k in WALL_KEYS if any(to_wall_time(r.get(k)) is not None for r in rows)), ())


def _row_wall_time(row: Mapping[str, Any], fields: tuple[str, ...]) -> float | None:
    """The wall time of a log row: the first of `fields` holding one (see `to_wall_time`)."""
    for name in fields:
        raw = row.get(name)
        if raw is not None:
            when = to_wall_time(raw)
            if when is not None:
                return when
    return None


def _field_kind(name: Any, default: str, drop: tuple[str, ...]) -> tuple[str, str] | None:
    """(condition, metric) of a log field, or None for a field that is not a metric: not a name, a
    step field, a dropped prefix, bookkeeping (epoch, wall time, throughput, counts)."""
    if not isinstance(name, str):
        return None
    name = name.strip()
    if not name or name in _STEP_SET or name.lower() in _STEP_SET or name.startswith(drop) or is_bookkeeping(name):
        return None
    return split_of(name, default)


def folder_run(path: Path, root: Path) -> str:
    """The run a file names by its folder (the data root's own name for a file lying in the root)."""
    return path.parent.name if path.parent.resolve() != root.resolve() else root.resolve().name


def own_name(path: Path, root: Path, same_kind) -> str:
    """The run a log names: its folder, or `<folder>/<file stem>` when the folder holds other logs of
    the same kind (`same_kind(name)`), e.g. two Keras CSV logs of two trainings side by side."""
    folder = path.parent
    name = folder.name if folder.resolve() != root.resolve() or path.parent != root else root.resolve().name
    try:
        others = [p.name for p in folder.iterdir() if p.name != path.name and p.is_file() and same_kind(p.name)]
    except OSError:
        others = []
    return f"{name}/{path.stem}" if others else name


LOG_SUFFIXES = re.compile(r"\.(csv|log|txt|tsv)$", re.IGNORECASE)


def csv_header(path: Path) -> list[str]:
    """The stripped column names of a CSV log's first line (Ultralytics pads them); [] if none."""
    first = head(path, 8192).decode("utf-8-sig", "replace").split("\n", 1)[0]
    if "," not in first:
        return []
    return [c.strip() for c in next(csv.reader([first]))]


def csv_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a CSV log as {stripped column: cell}; EvalFileError naming the file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh, skipinitialspace=True)
            header = [c.strip() for c in next(rows, [])]
            if not header:
                raise EvalFileError(f"{path}: empty file")
            return [dict(zip(header, (c.strip() for c in row))) for row in rows if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    except csv.Error as exc:
        raise EvalFileError(f"{path}: not a valid CSV log: {exc}") from None


def read_csv_log(path: Path, experiment: str, config: Config, key: str | None = None,
                 drop: tuple[str, ...] = (), wall: tuple[str, ...] = ()) -> list[Record]:
    """Records of a CSV training log; EvalFileError when no row has a step. `wall`: as for `row_records`."""
    rows = csv_rows(path)
    field = key or step_key(rows[0] if rows else csv_header(path))
    if field is None:
        raise EvalFileError(f"{path}: no step or epoch column")
    records, _ = row_records(rows, experiment, config, key=field, drop=drop, wall=wall)
    return records


_JSON_SPACE = re.compile(r"[ \t\n\r]*")  # what json skips around a value
_SCAN = json.JSONDecoder().scan_once  # json's own scanner: a value at a position of a text
_NOTHING = object()


def json_lines(text: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) of each non-blank line of `text` (split on "\n", as a file read in text
    mode splits it), the value `json.loads(line)` gives, or the ValueError it raises.

    Each line is scanned where it lies in the whole text by json's own scanner, not cut out and
    parsed alone: a third less time for a 5,000-line log. A line the scan does not end exactly at
    its end (an error, two values, a value running on into the next line) is cut out and handed to
    `json.loads` itself, so it reads and fails as before, in json's words."""
    scan, space, find, size = _SCAN, _JSON_SPACE.match, text.find, len(text)
    pos = number = 0
    while pos < size:
        number += 1
        stop = find("\n", pos)
        stop = size if stop < 0 else stop
        start = space(text, pos).end()
        value = _NOTHING
        if start < stop:
            try:
                value, end = scan(text, start)
            except (StopIteration, ValueError):
                value = _NOTHING
            else:
                if end > stop or space(text, end).end() < stop:
                    value = _NOTHING
        if value is _NOTHING:
            line = text[pos:stop + 1]  # with its newline, as a file's lines come (json's error positions)
            if line.strip():
                try:
                    value = json.loads(line)
                except ValueError as exc:
                    value = exc
                yield number, value
        else:
            yield number, value
        pos = stop + 1


def lines_from(path: Path, start: int) -> list[str]:
    """The complete lines of a file from byte `start` (a line boundary) on; an unfinished last line
    (being written) is left for the next read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read()
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    end = data.rfind(b"\n")
    return data[:end + 1].decode("utf-8", "replace").splitlines() if end >= 0 else []


def csv_tail(path: Path, experiment: str, config: Config, key: str, start: int,
             drop: tuple[str, ...] = (), wall: tuple[str, ...] = ()) -> list[Record]:
    """Records of the rows a CSV log gained after byte `start` (its header read from the first line)."""
    header = csv_header(path)
    rows = [dict(zip(header, (c.strip() for c in row))) for row in csv.reader(lines_from(path, start),
                                                                               skipinitialspace=True)
            if any(c.strip() for c in row)]
    if start == 0:
        rows = rows[1:]
    return row_records(rows, experiment, config, key=key, drop=drop, wall=wall)[0]
