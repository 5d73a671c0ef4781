"""Scores at the last checkpoint, checked against an independent computation from the raw JSON."""
import json
import math
import random

import pandas as pd
import pytest

import run_all
from analysis.scores import Gaps, build_predictions, build_scores
from testing_helpers import write_eval
from utils.loading import load
from utils.synthetic import write_tree

KIND = {"distance": "error", "trianglearea": "error", "angle": "error", "perimeter": "error",
        "crossing": "accuracy", "inside": "accuracy", "compass": "accuracy"}


@pytest.fixture
def sweep(tmp_path):
    """A sweep in the real layout: 29 experiments, 406 files, keys shuffled, one missing, one multi_task."""
    root = tmp_path / "experiments"
    files = write_tree(root, seeds=1, checkpoints=5, seed=7)
    rng = random.Random(3)
    for path in files:
        items = list(json.loads(path.read_text()).items())
        rng.shuffle(items)
        path.write_text(json.dumps(dict(items)))
    missing = root / "pt1_ft2-5" / "evals" / "atlantis_angle" / "eval_data" / "evaluation_results.json"
    missing.unlink()
    write_eval(root, "pt1_ft2-1", "multi_task", {"checkpoint-9": {"eval_distance_metric_mean": 1.0}})
    return root


def expected_scores(root):
    """The formulas of the issue, computed by hand from the JSON files, nothing shared with the code."""
    last = {}
    for path in root.glob("*/evals/*/eval_data/evaluation_results.json"):
        exp, folder = path.parts[-5], path.parts[-3]
        if folder == "multi_task":
            continue
        cond, task = ("atlantis", folder[9:]) if folder.startswith("atlantis_") else ("standard", folder)
        data = json.loads(path.read_text())
        step = max(int(k.split("-")[1]) for k in data)
        last[exp, cond, task] = data[f"checkpoint-{step}"][f"eval_{task}_metric_mean"]
    out = {}
    for (exp, cond, task), v in last.items():
        b, bi, bo = last[("pt1", cond, task)], last[("pt1", "standard", task)], last[("pt1", "atlantis", task)]
        acc = KIND[task] == "accuracy"
        stp = (v - b) / (1 - b) if acc else (b - v) / b
        gap = math.nan
        if cond == "atlantis":
            gap = (v - bo) / (bi - bo) if acc else math.log(bo / v) / math.log(bo / bi)
        out[exp, cond, task] = dict(value=v, baseline=b, raw_diff=v - b, fold_change=v / b,
                                    score_toward_perfect=stp, score_gap_closing=gap)
    return out


def test_every_score_matches_the_formulas(sweep, tmp_path):
    out = tmp_path / "out"
    code = run_all.main(["--data", str(sweep), "--out", str(out), "--only", "scores_csv", "--jobs", "1", "-q"])
    assert code == 0
    table = pd.read_csv(out / "tables" / "scores.csv", keep_default_na=True)
    assert len(table) == 29 * 14  # the missing evaluation is a row with an empty value
    expected = expected_scores(sweep)
    assert len(expected) == 405
    checked = 0
    assert list(table.columns[:7]) == ["run", "group", "seed", "experiment", "condition", "task", "direction"]
    assert {"eval_std", "baseline_run"} <= set(table.columns) and not {"model", "kind", "std"} & set(table.columns)
    assert set(table["direction"]) == {"higher_is_better", "lower_is_better"}
    for row in table.itertuples():
        key = (row.run, row.condition, row.task)
        if key not in expected:
            assert key == ("pt1_ft2-5", "atlantis", "angle") and row.missing and math.isnan(row.value)
            continue
        for col, want in expected[key].items():
            assert getattr(row, col) == pytest.approx(want, rel=1e-9, nan_ok=True), (key, col)
        checked += 1
    assert checked == 405
    groups = table.drop_duplicates("run").groupby("group").size().to_dict()
    assert groups == {"baseline": 1, "ft1": 7, "ft2": 21}


def test_scores_columns_and_trained_flags(small_tree, config):
    scores = build_scores(load(small_tree, config).frame, config)
    for col in ["experiment", "group", "condition", "task", "kind", "step", "value", "baseline", "raw_diff",
                "fold_change", "score_toward_perfect", "score_gap_closing"]:
        assert col in scores.columns
    row = scores[(scores.experiment == "pt1_ft2-1") & (scores.task == "trianglearea")].iloc[0]
    assert row.trained and row.trained_on == "distance+trianglearea"
    assert scores[scores.condition == "standard"]["score_gap_closing"].isna().all()
    base = scores[scores.experiment == "pt1"]
    assert (base["score_toward_perfect"] == 0).all() and (base["fold_change"] == 1).all()


def ck(task, v):
    return {"checkpoint-100": {f"eval_{task}_metric_mean": v}}


def test_missing_baseline_gives_empty_scores_and_a_report(tmp_path, config):
    root = tmp_path / "e"
    write_eval(root, "pt1_ft1-1", "distance", ck("distance", 2.0))
    gaps = Gaps()
    scores = build_scores(load(root, config).frame, config, gaps)
    assert scores["score_toward_perfect"].isna().all() and scores["value"].tolist() == [2.0]
    assert any("baseline 'pt1'" in line for line in gaps.lines())


def test_seed_is_normalized_against_its_own_baseline(tmp_path, config):
    root = tmp_path / "e"
    write_eval(root, "pt1", "distance", ck("distance", 4.0))
    write_eval(root, "pt1_seed2", "distance", ck("distance", 8.0))
    write_eval(root, "pt1_seed2_ft1-1", "distance", ck("distance", 2.0))
    scores = build_scores(load(root, config).frame, config).set_index("experiment")
    assert scores.at["pt1_seed2_ft1-1", "baseline"] == 8.0
    assert scores.at["pt1_seed2_ft1-1", "score_toward_perfect"] == pytest.approx(0.75)


def test_multi_task_prediction_is_max_of_single_task_scores(tmp_path, config):
    root = tmp_path / "e"
    # errors on distance: baseline 10; ft1-1 (distance) 5 -> 0.5; ft1-2 (trianglearea) 8 -> 0.2
    for exp, v in [("pt1", 10.0), ("pt1_ft1-1", 5.0), ("pt1_ft1-2", 8.0), ("pt1_ft2-1", 3.0)]:
        write_eval(root, exp, "distance", ck("distance", v))
    scores = build_scores(load(root, config).frame, config)
    pred = build_predictions(scores)
    row = pred[(pred.experiment == "pt1_ft2-1") & (pred.score == "score_toward_perfect")].iloc[0]
    assert row.predicted == pytest.approx(0.5) and row.predicted_from == "pt1_ft1-1"
    assert row.actual == pytest.approx(0.7) and row.residual == pytest.approx(0.2)


@pytest.mark.parametrize("tree", ["small_tree", "trainer_runs"])
def test_curves_keep_the_tables_codes_and_equal_the_string_views(tree, config, request):
    """primary and curves hold their labels as the table does (codes of sorted categories: a log tree's
    curves are millions of rows): as strings they are the views a string table gives."""
    from analysis.scores import build_curves, primary
    from testing_helpers import inferred_config
    from utils.labels import plain
    root = request.getfixturevalue(tree)
    cfg = inferred_config(root, config) if tree == "trainer_runs" else config
    frame = load(root, cfg).frame
    assert isinstance(frame["experiment"].dtype, pd.CategoricalDtype)
    coded, strings = build_curves(frame, cfg), build_curves(plain(frame), cfg)
    assert len(coded) > 0
    for name in ("experiment", "condition", "task", "group", "model", "baseline_experiment", "trained_on", "kind"):
        assert isinstance(coded[name].dtype, pd.CategoricalDtype), name
    pd.testing.assert_frame_equal(plain(coded), plain(strings))
    assert isinstance(primary(frame, cfg)["task"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize("tree", ["small_tree", "trainer_runs"])
@pytest.mark.parametrize("order", ["shuffled", "repeated"])
def test_scores_of_the_loaded_order_equal_those_of_any_order(tree, order, config, request):
    """primary and build_scores skip their merge, de-duplication and sort when the table is in the
    loader's order (analysis.frames.strictly_sorted); rows in another order, or a record twice, take
    the full path, and both give the same views."""
    from analysis.scores import build_curves
    from testing_helpers import inferred_config
    root = request.getfixturevalue(tree)
    cfg = inferred_config(root, config) if tree == "trainer_runs" else config
    frame = load(root, cfg).frame
    other = frame.sample(frac=1.0, random_state=3)
    if order == "repeated":
        other = pd.concat([frame, frame.iloc[:5]])
    for build in (build_scores, build_curves):
        pd.testing.assert_frame_equal(build(other, cfg), build(frame, cfg))
