"""JSON Lines: one long-form record a line, `{"experiment", "task", "value"[, "condition", "step",
"metric", "statistic"]}`. A bad line (the last one of a log being appended is often cut
mid-write) is left out and named; every complete line is kept. A file with no good line is
unreadable."""
from __future__ import annotations

import json
from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import PartialRead, Record, head, reader
from utils.readers.tables import long_record

SUFFIXES = (".jsonl", ".ndjson")


def _sniff(path: Path) -> bool:
    """A .jsonl file whose first line is a record with experiment and task (not, say, lm-eval's
    per-sample `samples_<task>.jsonl`)."""
    if path.suffix.lower() not in SUFFIXES:
        return False
    first = head(path, 65536).split(b"\n", 1)[0]
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and "experiment" in record and "task" in record


@reader("jsonl", "JSON Lines, one {experiment, task, value, ...} record per line", sniff=_sniff,
        accepts=lambda name: name.lower().endswith(SUFFIXES))
def read_jsonl(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one JSON Lines file of long-form records."""
    records: list[Record] = []
    bad: list[str] = []
    try:
        with open(path, encoding="utf-8-sig") as fh:  # a byte-order mark is skipped
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    records += _line_record(line, config, f"{path}: line {number}")
                except EvalFileError as exc:
                    bad.append(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    if bad and not records:
        raise EvalFileError(bad[0] + (f" (and {len(bad) - 1} more bad line(s))" if len(bad) > 1 else ""))
    if not records:
        raise EvalFileError(f"{path}: no records with a numeric value")
    if bad:
        more = f"; {len(bad) - 1} more bad line(s)" if len(bad) > 1 else ""
        raise PartialRead(f"{bad[0]}{more}; kept the {len(records)} record(s) of the other lines", records)
    return records


def _line_record(line: str, config: Config, where: str) -> list[Record]:
    """The record of one line (none when its value is not a number); EvalFileError naming the line."""
    try:
        fields = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(fields, dict):
        raise EvalFileError(f"{where}: expected an object, got {type(fields).__name__}")
    rec = long_record(fields, config, where)
    return [rec] if rec is not None else []
