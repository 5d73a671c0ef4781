"""JSON Lines training logs under any name (`log.jsonl`, `train_log.jsonl`, `metrics.jsonl`, MAE's
`log.txt`, detectron2's `metrics.json`, a Ray Tune trial's `result.json`): one JSON object a line;
the step from `step`, `global_step`, `iter`, `iteration`, `current_steps`, `_step`,
`training_iteration`, else `epoch`; lines without it (a config line, a "done" line) are not metric
lines; a step repeated after a restart keeps the later value; nested objects (Ray's `config`) and
strings are not metrics. A line cut mid-write is named and left out. The run is the folder (or
`<folder>/<file stem>` beside other such logs).

A line's wall time is its value of the first of `wall_time`, `_timestamp` (W&B's history), `timestamp`
(Ray Tune) and `time` that holds an epoch time in the log's first 50 lines: seconds since the Unix
epoch in 1e9..1e11 (2001 to the year 5138), or an ISO 8601 string with its UTC offset. A relative time
is not one and is left out: detectron2's `time` (an iteration's seconds), seconds since the start, an
ISO string without an offset (its time zone is unknown)."""
from __future__ import annotations

import json
from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import Columns, PartialRead, Record, head, reader
from utils.readers.json_summary import CONFIGS
from utils.readers.logs import (STEP_KEYS, json_lines, lines_from, own_name, row_columns, row_records,
                                wall_field)

NAME = "jsonl_log"
SUFFIXES = (".jsonl", ".ndjson", ".json", ".txt", ".log")


def _accepts(name: str) -> bool:
    """A log's suffix, and not a configuration file (config.json, tokenizer files: never opened)."""
    return name.lower().endswith(SUFFIXES) and not CONFIGS.match(name)


def _objects(text: str, limit: int) -> list[dict]:
    """The first `limit` JSON objects of `text`, one a line, up to the first line that is not one
    (a sniff needs 3 and reads them alone: parsing every line of a log's first 64 KB took 1.2 s of
    discovery for 200 logs)."""
    out: list[dict] = []
    for line in text.splitlines():
        if len(out) >= limit:
            break
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            break
        if not isinstance(obj, dict):
            break
        out.append(obj)
    return out


def _sniff(path: Path) -> bool:
    """At least one complete JSON object line, the first object lines holding a step field."""
    text = head(path, 65536).decode("utf-8-sig", "replace")
    lines = text.splitlines()
    if len(lines) < 2 and not text.endswith("\n"):
        return False
    objects = _objects("\n".join(lines[:-1]) if not text.endswith("\n") else text, 3)
    return any(k in obj for obj in objects for k in STEP_KEYS)


def _tail(path: Path, root: Path, config: Config, start: int) -> list[Record]:
    """The lines appended after byte `start`; the step and wall time fields from the log's first lines."""
    first = _objects(head(path, 65536).decode("utf-8-sig", "replace"), 50)
    key = next((k for k in STEP_KEYS if any(k in r for r in first)), None)
    rows = []
    for line in lines_from(path, start):
        try:
            obj = json.loads(line)
        except ValueError:
            continue  # named by the next full read; a tail keeps what it can
        if isinstance(obj, dict):
            rows.append(obj)
    if key is None:
        return []
    same = lambda n: n != path.name and _accepts(n) and _sniff(path.with_name(n))  # noqa: E731
    return row_records(rows, own_name(path, root, same), config, key=key, wall=wall_field(first))[0]


def read_jsonl_log_columns(path: Path, root: Path, config: Config) -> Columns:
    """Read one JSON Lines log: every number of every metric line at its step, as columns."""
    rows: list[dict] = []
    bad: list[str] = []
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    for number, obj in json_lines(text):
        if isinstance(obj, ValueError):
            bad.append(f"{path}: line {number}: not valid JSON ({obj})")
        elif isinstance(obj, dict):
            rows.append(obj)
    del text
    key = next((k for k in STEP_KEYS if any(k in r for r in rows[:50])), None)
    if key is None:
        raise EvalFileError(f"{path}: no line with a step field ({', '.join(STEP_KEYS)})")
    same = lambda n: n != path.name and _accepts(n) and _sniff(path.with_name(n))  # noqa: E731
    cols, _ = row_columns(rows, own_name(path, root, same), config, key=key, wall=wall_field(rows[:50]))
    n = len(cols.value)
    if bad and n:
        more = f"; {len(bad) - 1} more bad line(s)" if len(bad) > 1 else ""
        raise PartialRead(f"{bad[0]}{more}; kept the {n} record(s) of the other lines", cols)
    if bad:
        raise EvalFileError(bad[0])
    return cols


@reader(NAME, "JSON Lines training logs (step/iter/iteration/_step/training_iteration/epoch per line)",
        sniff=_sniff, accepts=_accepts, tail=_tail, columns=read_jsonl_log_columns)
def read_jsonl_log(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one JSON Lines log: every number of every metric line at its step."""
    try:
        return read_jsonl_log_columns(path, root, config).records()
    except PartialRead as exc:
        raise PartialRead(str(exc), exc.records.records()) from None
