"""Plain CSV/TSV tables, long or wide, told apart by the header.

Long form: one number a row, columns experiment, task, value and optionally condition, step,
metric, statistic. Wide form (a paper's raw-metrics table): one row per experiment, one column
per task, optionally condition and step columns. Numbers without a metric/statistic are the
task's reported metric (rules.yaml `metric` and `statistic`).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator, Mapping

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (Record, default_condition, head, reader, split_condition, to_step,
                           to_value)

SUFFIXES = (".csv", ".tsv")
LONG_KEYS = ("experiment", "condition", "task", "step", "metric", "statistic", "value")
WIDE_KEYS = ("experiment", "condition", "step")


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def long_record(fields: Mapping[str, Any], config: Config, where: str) -> Record | None:
    """One long-form row (a CSV row or a JSON Lines record) as a Record; None when its value is
    not a number. `where` ("<file>: line <n>") starts every error message."""
    for key in ("experiment", "task"):
        if not _text(fields.get(key)):
            raise EvalFileError(f"{where}: no {key} (a non-empty text field)")
    if "value" not in fields:
        raise EvalFileError(f"{where}: no value")
    value = to_value(fields["value"])
    if value is None:
        return None
    step = parse_step(fields.get("step"), where)
    task = _text(fields["task"])
    condition = _text(fields.get("condition"))
    if not condition:
        prefixed, task = split_condition(task, config)
        condition = prefixed or default_condition(config)
    metric = _text(fields.get("metric")) or config.metric.format(task=task)
    statistic = _text(fields.get("statistic")) or config.statistic
    return Record(_text(fields["experiment"]), condition, task, step, metric, statistic, value)


def parse_step(raw: Any, where: str) -> int:
    """A step field: empty or absent is 0 (a single evaluation), else a whole number."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return 0
    step = to_step(raw)
    if step is None:
        raise EvalFileError(f"{where}: step {raw!r} is not a whole number")
    return step


def _delimiter(path: Path) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    first = head(path).decode("utf-8", "replace").splitlines()[:1] or [""]
    return max(",\t;", key=first[0].count)


def _header(path: Path) -> list[str]:
    text = head(path).decode("utf-8-sig", "replace").splitlines()[:1]
    return next(csv.reader(text, delimiter=_delimiter(path)), []) if text else []


def _sniff(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES and "experiment" in {c.strip().lower() for c in _header(path)}


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank, non-comment row, header first."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh, delimiter=_delimiter(path))
            for row in rows:
                if any(cell.strip() for cell in row) and not row[0].lstrip().startswith("#"):
                    yield rows.line_num, row
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    except csv.Error as exc:
        raise EvalFileError(f"{path}: not a valid table: {exc}") from None


def task_for_column(column: str, config: Config) -> tuple[str | None, str]:
    """(condition, task) of a wide-form column: `atlantis_distance` -> ("atlantis", "distance");
    a task's name or label in any case (`Triangle area`) -> that task."""
    condition, name = split_condition(column, config)
    for task, info in config.tasks.items():
        if name.lower() in (task.lower(), info.label.lower()):
            return condition, task
    return condition, name


@reader("tables", "CSV/TSV tables: long (experiment, task, value, ...) or wide (a column per task)",
        sniff=_sniff, accepts=lambda name: name.lower().endswith(SUFFIXES))
def read_table(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one CSV/TSV table in long or wide form."""
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise EvalFileError(f"{path}: empty table")
    header = [c.strip() for c in first[1]]
    keys = [c.lower() for c in header]
    if "experiment" not in keys:
        raise EvalFileError(f"{path}: no 'experiment' column in the header (long form: experiment, "
                            "task, value[, condition, step, metric, statistic]; wide form: experiment "
                            "and one column per task)")
    dup = next((c for c in keys if c and keys.count(c) > 1), None)
    if dup:
        raise EvalFileError(f"{path}: column {dup!r} appears twice in the header")
    long = "task" in keys and "value" in keys
    records: list[Record] = []
    for line, row in rows:
        where = f"{path}: line {line}"
        if len(row) != len(header):
            raise EvalFileError(f"{where}: {len(row)} fields, the header has {len(header)}")
        if long:
            fields = {k: v for k, v in zip(keys, row) if k in LONG_KEYS}
            rec = long_record(fields, config, where)
            if rec is not None:
                records.append(rec)
            continue
        fields = dict(zip(keys, row))
        experiment = fields["experiment"].strip()
        if not experiment:
            raise EvalFileError(f"{where}: no experiment")
        step = parse_step(fields.get("step"), where)
        row_condition = fields.get("condition", "").strip()
        for column, key, cell in zip(header, keys, row):
            value = to_value(cell) if cell.strip() else None
            if key in WIDE_KEYS or not column or value is None:
                continue  # an empty cell is a missing evaluation, text is not a metric
            prefixed, task = task_for_column(column, config)
            condition = prefixed or row_condition or default_condition(config)
            records.append(Record(experiment, condition, task, step, config.metric.format(task=task),
                                  config.statistic, value))
    if not records:
        raise EvalFileError(f"{path}: no numbers in the table")
    return records
