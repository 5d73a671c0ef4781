"""Findings on a hand-written tree whose answers are worked out by hand in the comments below."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from analysis.findings import _diagonal, best_per_task, compute_findings
from analysis.views import compute
from analysis.scores import Gaps
from plots.summary import findings_markdown
from testing_helpers import REPO, write_eval
from utils.config import load_config
from utils.loading import load

# Last-checkpoint values (checkpoint-200); checkpoint-100 holds decoys that must be ignored.
#                 standard: distance crossing | atlantis: distance crossing
VALUES = {
    "pt1":       (4.0, 0.80, 64.0, 0.50),
    "pt1_ft1-1": (2.0, 0.76, 8.0, 0.55),   # trained on distance
    "pt1_ft1-7": (5.0, 0.90, 32.0, 0.74),  # trained on crossing
    "pt1_ft2-4": (3.0, 0.86, 16.0, 0.68),  # trained on crossing + distance
}
# Gap-closing on atlantis, error: log(bo/v)/log(bo/bi) with bo=64, bi=4 -> log(64/v)/log(16);
# accuracy: (v - 0.5)/(0.8 - 0.5).
#   ft1-1: distance log(8)/log(16) = 0.75, crossing 0.05/0.3 = 1/6
#   ft1-7: distance log(2)/log(16) = 0.25, crossing 0.24/0.3 = 0.8
#   ft2-4: distance log(4)/log(16) = 0.5,  crossing 0.18/0.3 = 0.6
# Toward perfect, error (b-v)/b, accuracy (v-b)/(1-b):
#   standard distance: ft1-1 0.5, ft1-7 -0.25, ft2-4 0.25; crossing: -0.2, 0.5, 0.3
#   atlantis distance: ft1-1 0.875, ft1-7 0.5, ft2-4 0.75; crossing: 0.1, 0.48, 0.36


def write_hand_tree(root: Path) -> Path:
    for exp, (sd, sc, ad, ac) in VALUES.items():
        for folder, task, v in (("distance", "distance", sd), ("crossing", "crossing", sc),
                                ("atlantis_distance", "distance", ad), ("atlantis_crossing", "crossing", ac)):
            write_eval(root, exp, folder, {
                "checkpoint-100": {f"eval_{task}_metric_mean": 0.123, f"eval_{task}_metric_std": 0.01},
                "checkpoint-200": {f"eval_{task}_metric_mean": v, f"eval_{task}_metric_std": 0.01,
                                   "eval_runtime": 3.2},
            })
    return root


@pytest.fixture
def hand_tree(tmp_path: Path) -> Path:
    return write_hand_tree(tmp_path / "experiments")


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> pd.DataFrame:
    """Computed once for the module: the tests below only read it."""
    config = load_config(REPO / "rules.yaml")
    frame = load(write_hand_tree(tmp_path_factory.mktemp("hand") / "experiments"), config).frame
    return compute({"findings"}, frame, config, Gaps())["findings"]


def one(findings: pd.DataFrame, **match) -> pd.Series:
    rows = findings
    for k, v in match.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, f"{match}: {len(rows)} rows"
    return rows.iloc[0]


@pytest.mark.parametrize("condition, task, experiment, value, baseline", [
    ("standard", "distance", "pt1_ft1-1", 2.0, 4.0),
    ("standard", "crossing", "pt1_ft1-7", 0.90, 0.80),
    ("atlantis", "distance", "pt1_ft1-1", 8.0, 64.0),
    ("atlantis", "crossing", "pt1_ft1-7", 0.74, 0.50),
])
def test_best_experiment_per_task_and_condition(findings, condition, task, experiment, value, baseline):
    r = one(findings, topic="best", condition=condition, task=task)
    assert r["experiment"] == experiment
    assert r["value"] == pytest.approx(value)
    assert r["reference_experiment"] == "pt1" and r["reference"] == pytest.approx(baseline)
    assert r["n"] == 1 and r["total"] == 1


@pytest.mark.parametrize("task, value", [("distance", 4.0), ("crossing", 0.80)])
def test_baseline_level_on_standard_tasks(findings, task, value):
    r = one(findings, topic="baseline", task=task)
    assert (r["experiment"], r["condition"]) == ("pt1", "standard")
    assert r["value"] == pytest.approx(value)


@pytest.mark.parametrize("kind, measure, value, experiment, task", [
    ("error", "fold_change", 5.0 / 4.0, "pt1_ft1-7", "distance"),   # untrained distance got worse
    ("accuracy", "raw_diff", 0.76 - 0.80, "pt1_ft1-1", "crossing"),  # untrained crossing lost 4 points
])
def test_forgetting_on_untrained_standard_tasks(findings, kind, measure, value, experiment, task):
    r = one(findings, topic="forgetting", group="ft1", kind=kind)
    assert r["measure"] == measure and r["condition"] == "standard"
    assert r["low"] == pytest.approx(value) and r["high"] == pytest.approx(value)
    assert (r["low_experiment"], r["low_task"]) == (experiment, task)
    assert (r["count"], r["total"]) == (1, 1)
    # ft2-4 trained on both tasks: nothing untrained, so no forgetting finding for ft2
    assert findings[(findings["topic"] == "forgetting") & (findings["group"] == "ft2")].empty


@pytest.mark.parametrize("group, subset, low, low_exp, low_task, high, high_exp, high_task", [
    ("ft1", "trained", 0.75, "pt1_ft1-1", "distance", 0.8, "pt1_ft1-7", "crossing"),
    ("ft1", "untrained", 1 / 6, "pt1_ft1-1", "crossing", 0.25, "pt1_ft1-7", "distance"),
    ("ft2", "trained", 0.5, "pt1_ft2-4", "distance", 0.6, "pt1_ft2-4", "crossing"),
])
def test_adaptation_ranges_on_atlantis(findings, group, subset, low, low_exp, low_task, high, high_exp, high_task):
    r = one(findings, topic="adaptation", group=group, subset=subset)
    assert r["condition"] == "atlantis"
    assert (r["low"], r["high"]) == (pytest.approx(low), pytest.approx(high))
    assert (r["low_experiment"], r["low_task"], r["high_experiment"], r["high_task"]) == \
        (low_exp, low_task, high_exp, high_task)
    assert r["median"] == pytest.approx((low + high) / 2)


def test_diagonal_verdict(findings):
    r = one(findings, topic="diagonal", group="ft1")
    assert (r["count"], r["total"], r["note"]) == (2, 2, "diagonal")
    assert r["value"] == pytest.approx(0.775 - (1 / 6 + 0.25) / 2)
    # ft2-4 has no untrained task, so there is nothing to separate
    assert findings[(findings["topic"] == "diagonal") & (findings["group"] == "ft2")].empty


@pytest.mark.parametrize("score, condition, task, actual, predicted, mean_abs, cells", [
    ("score_gap_closing", "atlantis", "distance", 0.5, 0.75, (0.25 + 0.2) / 2, 2),
    ("score_toward_perfect", "standard", "distance", 0.25, 0.5, (0.25 + 0.2) / 2, 2),
])
def test_prediction_misses_most(findings, score, condition, task, actual, predicted, mean_abs, cells):
    """Per group and condition, judged by that condition's score (as the prediction figure is): the
    standard condition's misses in the score toward perfect, Atlantis's in the gap-closing score."""
    part = findings[(findings["topic"] == "prediction") & (findings["condition"] == condition)]
    assert set(part["measure"]) == {score} and set(part["group"]) == {"ft2"}
    top = part.iloc[0]
    assert (top["experiment"], top["task"]) == ("pt1_ft2-4", task)
    assert top["value"] == pytest.approx(actual) and top["reference"] == pytest.approx(predicted)
    assert top["delta"] == pytest.approx(actual - predicted)
    err = one(findings, topic="prediction_error", measure=score, condition=condition)
    assert err["value"] == pytest.approx(mean_abs) and err["total"] == cells


@pytest.mark.parametrize("sentence", [
    "  - Crossing: ft1-7, 0.740 accuracy (baseline pt1: 0.500)",
    "  - Distance: ft1-1, 8.0 distance error (baseline pt1: 64.0)",
    "- pt1 on Standard: Distance 4.00 distance error; Crossing 0.800 accuracy.",
    "- ft1 (Single-task fine-tuning): error tasks end at 1.25x the baseline's error (ft1-7 on Distance); "
    "1 of 1 worse than the baseline.",
    "- ft1 (Single-task fine-tuning): accuracy tasks change by -4.0 percentage points (ft1-1 on Crossing); "
    "1 of 1 lost accuracy.",
    "- ft1 (Single-task fine-tuning), Atlantis (OOD): trained tasks close 75% to 80% of the baseline's gap to "
    "standard data (ft1-1 on Distance to ft1-7 on Crossing), median ",  # 77.5%: rounding left open
    "- ft1 (Single-task fine-tuning): in 2 of 2 experiments every trained task scores above every untrained "
    "task: the gap-closing heatmap has its diagonal (median trained minus untrained: 57% of the gap).",
    "- **ft2 (Two-task fine-tuning), Atlantis (OOD), gap-closing score** (mean absolute miss ",
    "  1. ft2-4 on Distance: actual 0.50, predicted 0.75 (miss -0.25).",
])
def test_summary_sentences(findings, config, sentence):
    """Whole lines; a sentence ending in a space is a line's beginning (the rest is rounding)."""
    lines = findings_markdown(findings, config).splitlines()
    assert any(line == sentence or sentence.endswith(" ") and line.startswith(sentence) for line in lines)


def test_summary_has_every_section_once(findings, config):
    text = findings_markdown(findings, config)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Best experiment per task", "## Baseline on standard data",
                        "## Forgetting on standard data (tasks not trained on)",
                        "## Adaptation out of distribution", "## Trained vs transfer tasks per family",
                        "## Where the multi-task prediction misses most"]
    assert "seeds" not in text.split("##")[0]  # one seed: no seed note in the intro


def test_no_scores_gives_a_note_not_an_error(config):
    empty = compute_findings(pd.DataFrame(), pd.DataFrame(), config)
    assert empty.empty
    assert "No findings yet" in findings_markdown(empty, config)


def test_missing_evaluation_is_left_out_not_zero(hand_tree, config):
    (hand_tree / "pt1_ft1-7" / "evals" / "atlantis_crossing" / "eval_data" / "evaluation_results.json").unlink()
    frame = load(hand_tree, config).frame
    f = compute({"findings"}, frame, config, Gaps())["findings"]
    best = one(f, topic="best", condition="atlantis", task="crossing")
    assert best["experiment"] == "pt1_ft2-4" and best["value"] == pytest.approx(0.68)
    trained = one(f, topic="adaptation", group="ft1", subset="trained")
    assert trained["total"] == 1 and not math.isnan(trained["low"])


@pytest.mark.parametrize("x, text", [(-0.04, "0.0"), (0.04, "0.0"), (-4.0, "-4.0"), (2.7, "+2.7")])
def test_signed_numbers_never_show_minus_zero(x, text):
    from plots.summary import _signed
    assert _signed(x, 1) == text


def _table_cells(tex: str) -> dict[tuple[str, str, str], str]:
    """{(condition label, row name, task label): the mean as printed, with ×10³ for a column in thousands}
    from raw_metrics.tex (tasks are columns, each condition a block of rows under its italic label)."""
    import re
    lines = tex.splitlines()
    tasks = [re.sub(r" \(\$\\(up|down)arrow\$\)$", "", c.strip()) for c in
             lines[lines.index(r"\toprule") + 1].rstrip("\\ ").split(" & ")[1:]]
    cells, cond, units = {}, "", [""] * len(tasks)
    for line in lines:
        if r"\textit{" in line:
            cond = re.search(r"\\textit\{(.+?)\}", line).group(1)
            units = ["×10³" if "10^{3}" in c else "" for c in line.strip()[:-2].split("&")[1:]]
        elif line.endswith(r"\\") and " & " in line and not line.startswith(("Experiment", r"\multicolumn")):
            parts = line[:-2].strip().split(" & ")
            for task, unit, cell in zip(tasks, units, parts[1:]):
                mean = re.sub(r"\\textbf\{(.+?)\}", r"\1", cell.split(r"${\pm}$")[0]).replace(r"$^\dagger$", "")
                cells[cond, parts[0], task] = mean + unit
    return cells


def test_summary_says_what_the_tables_and_figures_show(tmp_path, config):
    """summary.md read beside raw_metrics.tex and the prediction figure: every best and baseline value is the
    table's cell as printed (same row name, same rounding), every listed miss is one the figure numbers
    (same experiment name, task and numbers, same order), and no per-seed run or long name appears."""
    import re

    import run_all
    from testing_helpers import render
    from utils.synthetic import write_tree
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=3, ft2=4, checkpoints=3)
    out = tmp_path / "out"
    assert run_all.main(["--data", str(root), "--out", str(out), "--only", "summary", "raw_metrics_tex",
                         "--jobs", "1", "-q"]) == 0
    summary = (out / "summary.md").read_text()
    cells = _table_cells((out / "tables" / "raw_metrics.tex").read_text())
    assert not re.search(r"pt1_|seed\d", summary.split("\n## ", 1)[1])  # figure names, seed means only
    labels = {c.name: c.label for c in config.conditions}
    cond, checked = "", 0
    for line in summary.splitlines():
        if line.startswith("- **") and line.endswith("**") and line[4:-2] in labels.values():
            cond = line[4:-2]
        best = re.fullmatch(r"  - (.+?): (\S+), (\S+) .*\(baseline (\S+): (\S+?)\)", line)
        if best and cond:
            task, name, value, base, base_value = best.groups()
            assert cells[cond, name, task] == value and cells[cond, base, task] == base_value, line
            checked += 1
    assert checked == 2 * 7
    baseline = next(line for line in summary.splitlines() if line.startswith("- pt1 on Standard"))
    pieces = baseline.split(": ", 1)[1].rstrip(".").split("; ")
    assert len(pieces) == len(config.tasks)
    for piece, info in zip(pieces, config.tasks.values()):
        assert piece.startswith(info.label + " ")
        assert cells[labels["standard"], "pt1", info.label] == piece[len(info.label) + 1:].split()[0], piece
    figures, _ = render("prediction", root, config)
    for keys, fig in figures:
        listed = next(t.get_text() for t in fig.texts if t.get_text().startswith("largest misses"))
        drawn = [re.fullmatch(r"(\d)  (.+?): actual (\S+), predicted (\S+) \((\S+)\)", s).groups()
                 for s in listed.splitlines()[1:]]
        heading = next(i for i, line in enumerate(summary.splitlines())
                       if line.startswith(f"- **{keys['group']} (") and f", {labels[keys['condition']]}, " in line)
        said = [re.fullmatch(r"  (\d)\. (.+?): actual (\S+), predicted (\S+) \(miss (\S+)\)\.", line).groups()
                for line in summary.splitlines()[heading + 1:heading + 1 + len(drawn)]]
        assert said == drawn and len(drawn) == 3, keys


def test_a_member_training_leaves_out_is_not_counted_as_trained_or_transfer(hand_tree):
    """training: names ft1-1 (distance) but not ft1-7: ft1-7's cells are neither trained nor transfer
    (nobody said what it trained on), so ft1's transfer on standard data is ft1-1's crossing alone (score
    toward perfect -0.2), not the mean with ft1-7's two cells; its forgetting leaves ft1-7 out too."""
    import dataclasses
    config = load_config(REPO / "rules.yaml")
    config = dataclasses.replace(config, training={"ft1": {1: ("distance",)}, "ft2": config.training["ft2"]})
    found = compute({"findings"}, load(hand_tree, config).frame, config, Gaps())["findings"]
    r = one(found, topic="transfer", group="ft1", condition="standard", subset="transfer")
    assert (r["total"], r["value"]) == (1, pytest.approx(-0.2))
    r = one(found, topic="transfer", group="ft1", condition="standard", subset="trained")
    assert (r["total"], r["value"]) == (1, pytest.approx(0.5))
    assert set(found.loc[found["topic"] == "forgetting", "low_experiment"]) <= {"pt1_ft1-1", "pt1_ft2-4"}
    best = one(found, topic="best", condition="standard", task="crossing")  # best is about values: ft1-7 stays
    assert best["experiment"] == "pt1_ft1-7"


def test_the_best_is_the_first_of_a_tie_and_lower_is_better_for_an_error(config):
    """Per (condition, task): the highest accuracy, the lowest error, the first row of a tie; the reference is
    the baseline's value in that condition and task, NaN where the baseline has no row there."""
    rows = [  # group, experiment, condition, task, value_mean, baseline_experiment
        ("baseline", "pt1", "standard", "distance", 4.0, ""),
        ("baseline", "pt1", "standard", "crossing", 0.8, ""),
        ("ft1", "pt1_ft1-1", "standard", "distance", 2.0, "pt1"),
        ("ft1", "pt1_ft1-2", "standard", "distance", 1.0, "pt1"),
        ("ft1", "pt1_ft1-3", "standard", "distance", 1.0, "pt1"),
        ("ft1", "pt1_ft1-1", "standard", "crossing", 0.9, "pt1"),
        ("ft1", "pt1_ft1-2", "standard", "crossing", 0.95, "pt1"),
        ("ft1", "pt1_ft1-1", "atlantis", "crossing", 0.6, "pt1"),
        ("ft1", "pt1_ft1-2", "atlantis", "crossing", 0.5, "pt1"),
    ]
    table = pd.DataFrame(rows, columns=["group", "experiment", "condition", "task", "value_mean",
                                        "baseline_experiment"]).assign(value_n=1, n_seeds=1, kind="error")
    best = {(r["condition"], r["task"]): r for r in best_per_task(table, config)}
    assert list(best) == [("standard", "distance"), ("standard", "crossing"), ("atlantis", "crossing")]
    assert (best["standard", "distance"]["experiment"], best["standard", "distance"]["delta"]) == ("pt1_ft1-2", -3.0)
    assert (best["standard", "crossing"]["experiment"], best["standard", "crossing"]["reference"]) == \
        ("pt1_ft1-2", 0.8)
    assert best["atlantis", "crossing"]["experiment"] == "pt1_ft1-1"
    assert math.isnan(best["atlantis", "crossing"]["reference"]) and math.isnan(best["atlantis", "crossing"]["delta"])


@pytest.mark.parametrize("trained_on, verdict", [
    ({"e1": {"t1"}, "e2": {"t2"}, "e3": set()}, (2, 2, "diagonal")),  # e3: nothing trained, not counted
    ({"e1": {"t1", "t2"}, "e2": {"t3"}, "e3": set()}, (1, 2, "block-diagonal")),
    # e3 trained everything: not counted (no untrained task), but its three tasks make the verdict a block
    ({"e1": {"t1"}, "e2": {"t2"}, "e3": {"t1", "t2", "t3"}}, (2, 2, "block-diagonal")),
])
def test_the_diagonal_counts_experiments_with_both_and_names_blocks(trained_on, verdict):
    """An experiment counts when it has trained and untrained tasks; it is separated when its lowest trained
    score beats its highest untrained one; two tasks trained in one experiment make it block-diagonal."""
    scores = {"e1": {"t1": 0.9, "t2": 0.7, "t3": 0.1}, "e2": {"t1": 0.2, "t2": 0.8, "t3": 0.5},
              "e3": {"t1": 0.4, "t2": 0.4, "t3": 0.4}}
    g = pd.DataFrame([(e, t, v, t in trained_on[e]) for e, tasks in scores.items() for t, v in tasks.items()],
                     columns=["experiment", "task", "score", "trained"])
    (row,) = _diagonal(g, "ft1", "atlantis", "score")
    assert (row["count"], row["total"], row["note"]) == verdict
    median = g.loc[g["trained"], "score"].median() - g.loc[~g["trained"], "score"].median()
    assert row["value"] == pytest.approx(median)
