"""JSON Lines: one long-form record a line, `{"experiment", "task", "value"[, "condition", "step",
"metric", "statistic"]}`. A bad line fails the whole file, naming the line, so a file still being
appended to is never read half (it is read again once it changes)."""
from __future__ import annotations

import json
from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import Record, head, reader
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


@reader("jsonl", "JSON Lines, one {experiment, task, value, ...} record per line", sniff=_sniff)
def read_jsonl(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one JSON Lines file of long-form records."""
    records: list[Record] = []
    try:
        with open(path, encoding="utf-8-sig") as fh:  # a byte-order mark is skipped
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{path}: line {number}"
                try:
                    fields = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalFileError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})") from None
                if not isinstance(fields, dict):
                    raise EvalFileError(f"{where}: expected an object, got {type(fields).__name__}")
                rec = long_record(fields, config, where)
                if rec is not None:
                    records.append(rec)
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    if not records:
        raise EvalFileError(f"{path}: no records with a numeric value")
    return records
