"""summary.md for runs nobody described (analysis/run_findings.py, plots/summary.py `run_lines`): the best
run per metric with its value, best vs last checkpoint, NaN evaluations, runs short of their max_steps and
lm-eval evaluations on a sample, each checked against the numbers written into the files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import run_all
from testing_helpers import write_trainer_run


def summary(root: Path, out: Path) -> str:
    assert run_all.main(["--data", str(root), "--out", str(out), "--only", "summary", "--jobs", "1", "-q"]) == 0
    return (out / "summary.md").read_text()


def test_the_best_run_per_metric_and_best_vs_last(tmp_path):
    root = tmp_path / "runs"
    write_trainer_run(root / "bert", [0.70, 0.86, 0.84])
    write_trainer_run(root / "roberta", [0.60, 0.75, 0.79])
    text = summary(root, tmp_path / "out")
    assert "No findings yet" not in text
    assert "## Runs without a baseline: the best run per metric" in text
    assert "  - accuracy (higher is better): **bert**, 0.840 (next: roberta, 0.790; 2 runs)" in text
    assert "loss (lower is better)" not in text  # a loss depends on its data: no best across runs
    assert "- bert (runs), accuracy: best 0.860 at step 200, last 0.840 at step 300" in text
    assert "- roberta (runs), accuracy" not in text  # its best is its last


def test_nan_runs_short_of_max_steps_and_sampled_evaluations_are_named(tmp_path):
    root = tmp_path / "tree"
    write_trainer_run(root / "hf" / "a", [0.5, float("nan"), 0.7])
    state = root / "hf" / "b" / "trainer_state.json"
    write_trainer_run(state.parent, [0.55, 0.6])
    data = json.loads(state.read_text())
    state.write_text(json.dumps({**data, "max_steps": 1000}))
    for model, limit in (("m1", 20), ("m2", None)):
        path = root / "lm" / f"org__{model}" / "results_2024-01-01T00-00-00.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.01}},
                                    "config": {"model": "hf", "model_args": f"pretrained=org/{model}", "limit": limit}, "versions": {"piqa": 0}}))
    text = summary(root, tmp_path / "out")
    assert "- a (hf), accuracy: NaN at 1 step, first at step 200" in text
    assert "- b (hf): last step 200 of 1 000 (20%)" in text
    assert "- a (hf): last step" not in text  # no max_steps written: nothing to compare with
    assert "- m1 (lm): piqa, at most 20 examples per task" in text and "- m2 (lm)" not in text


@pytest.mark.parametrize("values, tied", [((0.600, 0.615), True), ((0.40, 0.50), False)])
def test_a_best_within_stderr_is_said_to_be_not_told_apart(tmp_path, values, tied):
    root = tmp_path / "lm"
    for model, v in zip(("m1", "m2"), values):
        path = root / f"org__{model}" / "results_2024-01-01T00-00-00.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"results": {"piqa": {"acc": v, "acc_stderr": 0.01}},
                                    "config": {"model": "hf", "model_args": f"pretrained=org/{model}"}, "versions": {"piqa": 0}}))
    text = summary(root, tmp_path / "out")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("- piqa"))
    assert f"**m2**, {values[1]:.3f} ± 0.010 stderr" in line
    assert ("not told apart" in line) is tied


def test_runs_scored_against_a_named_baseline_are_not_said_to_forget(tmp_path):
    """Nothing says what `roberta` trained on: scored against `bert`, its lower accuracy is a
    difference from the baseline, not forgetting of a task it was not trained on."""
    root = tmp_path / "runs"
    write_trainer_run(root / "bert", [0.70, 0.86, 0.84])
    write_trainer_run(root / "roberta", [0.60, 0.75, 0.79])
    out = tmp_path / "out"
    assert run_all.main(["--data", str(root), "--out", str(out), "--baseline", "bert", "--only", "summary",
                         "--jobs", "1", "-q"]) == 0
    text = (out / "summary.md").read_text()
    assert "Forgetting" not in text
    assert "Best experiment per task" in text  # the comparison with the baseline is still there


def _overview_rows() -> pd.DataFrame:
    """Overview rows of seven slices, rows out of step order and slices out of sorted order."""
    nan = np.nan
    rows = [  # group, model, condition, role, step, value, stderr, best
        ("g2", "m1", "eval", "eval", 3, 0.80, nan, False), ("g2", "m1", "eval", "eval", 1, 0.50, nan, False),
        ("g2", "m1", "eval", "eval", 2, 0.90, nan, True),  # best before the last: said
        ("g1", "m2", "eval", "eval", 1, 0.60, nan, False), ("g1", "m2", "eval", "eval", 2, 0.70, nan, True),
        ("g1", "m3", "eval", "eval", 1, 0.7000001, nan, True), ("g1", "m3", "eval", "eval", 2, 0.7, nan, False),
        ("g1", "m4", "eval", "eval", 2, 0.55, 0.05, False), ("g1", "m4", "eval", "eval", 1, 0.60, 0.05, True),
        ("g1", "m4", "eval", "eval", 3, nan, 0.05, False),  # a NaN is no checkpoint: the last is step 2
        ("g1", "m5", "train", "train", 1, 0.10, nan, False), ("g1", "m5", "train", "train", 2, 0.20, nan, False),
        ("g1", "m1", "eval", "eval", 5, 0.30, nan, False), ("g1", "m1", "eval", "eval", 4, 0.40, nan, True),
        ("g1", "m6", None, "eval", 1, 0.90, nan, True), ("g1", "m6", None, "eval", 2, 0.10, nan, False),  # no condition
    ]
    frame = pd.DataFrame(rows, columns=["group", "model", "condition", "role", "step", "value", "stderr", "best"])
    return frame.assign(panel="acc", name="acc", kind="accuracy").astype(
        {c: "category" for c in ("group", "model", "condition", "role", "panel", "name", "kind")})


@pytest.mark.parametrize("labels", ["categorical", "text"])
def test_best_vs_last_names_each_slice_whose_best_checkpoint_is_not_its_last(labels):
    """m2's best is its last; m3's best and last agree to 3 decimals; m4's last finite step is 2 and
    its best is within 1.96 combined stderr; m5 is training only; m6 has no condition. In sorted order
    of the slices."""
    from analysis.run_findings import best_vs_last
    overview = _overview_rows()
    if labels == "text":
        overview = overview.astype({c: object for c in overview.columns if overview[c].dtype == "category"})
    got = [(r["group"], r["experiment"], r["value"], r["low"], r["reference"], r["high"], r["note"])
           for r in best_vs_last(overview)]
    assert got == [("g1", "m1", 0.40, 4, 0.30, 5, ""), ("g1", "m4", 0.60, 1, 0.55, 2, "tied"),
                   ("g2", "m1", 0.90, 2, 0.80, 3, "")]
    assert best_vs_last(overview.iloc[:0]) == [] and best_vs_last(overview.assign(best=False)) == []
