"""utils/conflicts.py: two files giving one record different numbers are found, whether the labels are
strings or categorical codes, and a table where no two files share an evaluation skips the search."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.conflicts import SUPERSEDED, resolve_conflicts
from utils.labels import categorical


def table(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (experiment, condition, task, step, metric, value, source); statistic 'mean'."""
    cols = ["experiment", "condition", "task", "step", "metric", "value", "source"]
    frame = pd.DataFrame(rows, columns=cols).assign(statistic="mean")
    return frame[["experiment", "condition", "task", "step", "metric", "statistic", "value", "source"]]


A, B = "a/evals/t/eval_data/evaluation_results.json", "b/evals/t/eval_data/evaluation_results.json"
CASES = {
    # name: (rows, losing rows expected)
    "a file per evaluation": ([("e1", "std", "t", 1, "m", 1.0, A), ("e2", "std", "t", 1, "m", 2.0, B)], 0),
    "one evaluation, two files, other steps": ([("e", "std", "t", 1, "m", 1.0, A),
                                                ("e", "std", "t", 2, "m", 2.0, B)], 0),
    "one evaluation, two files agreeing": ([("e", "std", "t", 1, "m", 1.0, A), ("e", "std", "t", 1, "m", 1.0, B)], 0),
    "one evaluation, two files disagreeing": ([("e", "std", "t", 1, "m", 1.0, A), ("e", "std", "t", 1, "m", 3.0, B),
                                               ("e", "std", "t", 2, "m", 5.0, A), ("e", "std", "t", 2, "m", 6.0, B)], 2),
    "rows of one file apart": ([("e", "std", "t", 1, "m", 1.0, A), ("e", "std", "u", 1, "m", 1.0, A),
                                ("e", "std", "t", 1, "m", 4.0, B)], 1),
    "a missing task": ([("e", "std", None, 1, "m", 1.0, A), ("e", "std", None, 1, "m", 2.0, B)], 1),
}


@pytest.mark.parametrize("coded", [False, True], ids=["strings", "codes"])
@pytest.mark.parametrize("case", list(CASES))
def test_conflicts_are_found_exactly_where_two_files_disagree(tmp_path: Path, case: str, coded: bool) -> None:
    rows, losing = CASES[case]
    frame = table(rows)
    frame = categorical(frame) if coded else frame
    used, records, conflicts = resolve_conflicts(frame, tmp_path)
    assert len(used) == len(frame) - losing
    if not losing:
        assert used is frame and records is frame and conflicts == []
        return
    assert len(conflicts) == 1 and len(conflicts[0].records) == losing
    # the files have no time on disk (equal): the later path wins
    assert (records[SUPERSEDED] == B).sum() == losing
    assert set(used["value"]) == {v for *_, v, s in rows if s == B} | {
        v for e, c, t, st, m, v, s in rows if s == A and not any(
            (e2, c2, t2, st2) == (e, c, t, st) and s2 == B for e2, c2, t2, st2, _, _, s2 in rows)}


def test_a_large_table_without_shared_evaluations_is_returned_as_it_is(tmp_path: Path) -> None:
    n = 3000
    frame = categorical(pd.DataFrame({
        "experiment": np.repeat([f"e{i}" for i in range(n)], 4), "condition": "std",
        "task": np.repeat(["t"] * n, 4), "step": np.tile([1, 2, 1, 2], n),
        "metric": np.tile(["m", "m", "n", "n"], n), "statistic": "mean", "value": np.arange(4 * n, dtype=float),
        "source": np.repeat([f"e{i}/r.json" for i in range(n)], 4)}))
    used, records, conflicts = resolve_conflicts(frame, tmp_path)
    assert used is frame and records is frame and conflicts == []
    moved = frame.copy()
    moved.loc[5, ["experiment", "step", "value"]] = ["e0", 1, 0.5]  # e1's file gives e0's step-1 m another number
    used, records, conflicts = resolve_conflicts(moved, tmp_path)
    assert [len(c.records) for c in conflicts] == [1] and len(used) == len(frame) - 1
