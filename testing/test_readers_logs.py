"""utils/readers/logs.py: JSON Lines scanned in place give, line by line, what json.loads gives each
line on its own (its value, or its error in json's words), blank lines skipped, numbered as a file
read in text mode numbers them."""
from __future__ import annotations

import io
import json

import pytest

from utils.readers.logs import json_lines


def _one_by_one(text: str) -> list[tuple[int, object]]:
    out = []
    for number, line in enumerate(io.StringIO(text, newline=None), 1):  # as read_jsonl_log read a file
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except ValueError as exc:
            out.append((number, f"error: {exc}"))
    return out


@pytest.mark.parametrize("text", [
    '{"step": 1, "loss": 0.5}\n{"step": 2, "loss": NaN}\n',
    '{"step": 1}\n\n   \n\t{"step": 2}  \n',  # blank lines, spaces around a value
    '{"step": 1}\r\n{"step": 2}\r\n',  # Windows line ends
    '{"step": 1}\n{"step": 2}',  # no newline at the end
    '{"step": 1}{"step": 2}\n{"step": 3}\n',  # two values on a line: "Extra data"
    '{"step": 1,\n "loss": 2}\n{"step": 3}\n',  # a value running on into the next line
    '[1,\n2]\n',
    '{"step": 1, "note": "a\nb"}\n',  # a string cut by a line end
    '{"step": 1, "loss": 0.\n',  # cut mid-write
    '3\n"text"\nnull\n[1, 2]\n',  # values that are not objects
    '\x0c\n{"step": 1}\n\u00a0\n',  # whitespace json does not skip: blank to str.strip, skipped
    '{"step": 1} x\n{"step": 2}\n',  # trailing text
    '\ufeff{"step": 1}\n',  # a byte-order mark inside the text
    '',
])
def test_json_lines_read_each_line_as_json_loads_does(text):
    got = [(n, f"error: {v}" if isinstance(v, ValueError) else v) for n, v in json_lines(text)]
    assert got == _one_by_one(text)


def _log(n: int = 6, **change) -> list[dict]:
    rows = [{"step": s, "loss": 2.0 / s, "eval_loss": 2.5 / s, "learning_rate": 1e-4} for s in range(1, n + 1)]
    for (at, field), value in change.get("set", {}).items():
        rows[at][field] = value
    return rows + change.get("more", [])


@pytest.mark.parametrize("rows", [
    _log(),  # one log() call a step: read a field at a time
    _log(set={(2, "loss"): 1}),  # an int among the floats
    _log(set={(3, "loss"): None}),  # a null: not logged on that row
    _log(more=[{"step": 3, "loss": 9.0, "eval_loss": 9.5, "learning_rate": 1e-4}]),  # a restart: the later row wins
    _log(more=[{"loss": 1.0, "step": 7, "eval_loss": 1.5, "learning_rate": 1e-4}]),  # fields in another order
    _log(more=[{"step": 7, "loss": 1.0}]),  # a row with fewer fields
    [{"step": s, "eval_loss": 1.0 * s, "eval/loss": 2.0 * s} for s in (1, 2)],  # two fields, one metric
    [],
])
def test_a_log_read_a_field_at_a_time_has_the_records_of_one_read_a_row_at_a_time(rows, config):
    from utils.readers.logs import row_columns
    by_field, stepless = row_columns(rows, "run", config, key="step")
    by_row, stepless_rows = row_columns(iter(rows), "run", config)  # the step field found row by row
    assert sorted(by_field.records()) == sorted(by_row.records()) and stepless == stepless_rows
    assert len(by_field.value) == len({(c, m, s) for c, m, s in zip(by_row.condition, by_row.metric, by_row.step)})
