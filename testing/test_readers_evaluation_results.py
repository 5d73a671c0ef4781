"""The sweep's reader: its columns hook (what the loader calls) gives exactly the records a
value-by-value reading gives, whatever the values are."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from testing_helpers import REPO
from utils.config import load_config
from utils.errors import EvalFileError
from utils.loading import _parse_chunk, finite_values, unpack
from utils.readers import MISSING, Columns, Record
from utils.readers.evaluation_results import read_evaluation_columns, read_evaluation_results

CASES = {
    "floats": {"checkpoint-10": {"eval_loss_mean": 1.5, "eval_loss_std": 0.25},
               "checkpoint-20": {"eval_loss_mean": 1.25, "eval_loss_std": 0.5}},
    "ints and floats": {"checkpoint-10": {"eval_acc_mean": 1, "eval_acc_std": 0.5}},
    "null is missing": {"checkpoint-10": {"eval_acc_mean": None, "eval_acc_std": 0.5}},
    "strings and bools skipped": {"checkpoint-10": {"eval_acc_mean": 0.5, "model": "x", "eval_done": True}},
    "layouts differ": {"checkpoint-10": {"eval_a_mean": 0.5}, "checkpoint-20": {"eval_b_mean": 0.75, "eval_a": 2.0},
                       "checkpoint-30": {"eval_a_mean": 0.25}},
    "other keys ignored": {"checkpoint-10": {"eval_a_mean": 0.5}, "best_checkpoint": "checkpoint-10"},
    "huge int": {"checkpoint-10": {"eval_a_mean": 10 ** 400, "eval_b_mean": 0.5}},
}


def _expected(data: dict) -> list[tuple]:
    """An independent reading: every numeric (or null) value of every checkpoint-N entry."""
    out = []
    for key, metrics in data.items():
        if not key.startswith("checkpoint-"):
            continue
        for name, v in metrics.items():
            if isinstance(v, bool) or isinstance(v, str):
                continue
            base = name[len("eval_"):]
            metric, _, stat = base.rpartition("_")
            if stat not in ("mean", "std"):
                metric, stat = base, "value"
            value = math.nan if v is None else (math.inf if isinstance(v, int) and v > 1e308 else float(v))
            out.append(("pt1", "standard", "angle", int(key.split("-")[1]), metric, stat, value))
    return out


def _write(tmp_path: Path, data: dict) -> tuple[Path, Path]:
    path = tmp_path / "pt1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path, tmp_path


def _same(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(x[:6] == y[:6] and (x[6] == y[6] or math.isnan(x[6]) and math.isnan(y[6]))
                                    for x, y in zip(a, b))


@pytest.mark.parametrize("case", CASES)
def test_columns_give_the_records_a_value_by_value_reading_gives(tmp_path: Path, case: str) -> None:
    path, root = _write(tmp_path, CASES[case])
    config = load_config(REPO / "rules.yaml")
    columns = read_evaluation_columns(path, root, config)
    assert isinstance(columns, Columns) and columns.wall_time is None  # the sweep's files have no wall time
    rows = list(zip(*columns[:-1]))
    assert _same(rows, _expected(CASES[case]))
    assert _same([tuple(r) for r in read_evaluation_results(path, root, config)], rows)
    assert all(isinstance(r, Record) for r in read_evaluation_results(path, root, config))


@pytest.mark.parametrize("data, message", [({}, "no 'checkpoint-<step>' entries"), ([1, 2], "expected an object"),
                                           ({"checkpoint-1": [1]}, "expected an object of metrics")])
def test_files_without_checkpoints_are_errors_naming_the_file(tmp_path: Path, data, message: str) -> None:
    path, root = _write(tmp_path, data)
    with pytest.raises(EvalFileError, match=message) as err:
        read_evaluation_columns(path, root, load_config(REPO / "rules.yaml"))
    assert str(path) in str(err.value)


def test_the_loader_reads_through_the_columns_hook_and_counts_non_finite_values(tmp_path: Path) -> None:
    data = {"checkpoint-10": {"eval_a_mean": 0.5, "eval_b_mean": None, "eval_c_mean": float("nan"),
                              "eval_d_mean": float("inf")}}
    path, root = _write(tmp_path, data)
    [outcome] = _parse_chunk([(str(path), "evaluation_results")], root, load_config(REPO / "rules.yaml"))
    assert outcome[0] == "ok"
    cols = unpack(outcome[1])
    assert cols[4] == ["a", "b", "c", "d"]
    values = cols[6]
    assert values[0] == 0.5 and all(math.isnan(v) for v in values[1:])
    assert outcome[2].startswith("2 values not a finite number")  # null is expected, NaN and inf are reported


@pytest.mark.parametrize("values, bad", [([0.5, 1.0], 0), ([MISSING, 0.5], 0), ([float("nan"), MISSING], 1),
                                         ([float("-inf"), 2, 10 ** 400], 2), (["x", 0.5], 1)])
def test_finite_values_counts_only_unexpected_non_finite_values(values: list, bad: int) -> None:
    cols = (None,) * 6 + (list(values),)
    assert finite_values(cols) == bad
    assert all(isinstance(v, (int, float)) and (v is MISSING or math.isfinite(v)) for v in cols[6])
