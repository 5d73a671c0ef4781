"""Seed aggregation against hand-computed means; one-seed trees keep rendering (n = 1, std empty)."""
from __future__ import annotations

import io
import math
import statistics
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from analysis.scores import Gaps
from analysis.views import compute
from testing_helpers import REPO, write_eval
from utils.config import load_config
from utils.errors import ConfigError
from utils.loading import load
from runner.pipeline import Pipeline
from runner.report import Options
from runner.planning import split
from utils.synthetic import write_tree

# distance (error) at the last checkpoint: (standard, atlantis)
SEEDED = {
    "pt1": (4.0, 64.0), "pt1_ft1-1": (2.0, 8.0),
    "pt1_seed2": (5.0, 40.0), "pt1_seed2_ft1-1": (3.0, 10.0),
}
# Per seed, against its own baseline:
#   fold change 2/4 = 0.5 and 3/5 = 0.6; raw diff -2 and -2; toward perfect (b-v)/b 0.5 and 0.4
#   gap-closing log(bo/v)/log(bo/bi): log(64/8)/log(64/4) = 0.75 and log(40/10)/log(40/5) = 2/3
# Averaging first and normalizing after would give e.g. fold change 2.5/4.5 = 0.556, not 0.55.
EXPECTED = {
    ("standard", "value"): [2.0, 3.0], ("standard", "fold_change"): [0.5, 0.6],
    ("standard", "raw_diff"): [-2.0, -2.0], ("standard", "score_toward_perfect"): [0.5, 0.4],
    ("atlantis", "value"): [8.0, 10.0], ("atlantis", "fold_change"): [8 / 64, 10 / 40],
    ("atlantis", "score_gap_closing"): [0.75, math.log(4) / math.log(8)],
}


def write_seeded(root: Path, values: dict = SEEDED) -> Path:
    for exp, (std_v, atl_v) in values.items():
        write_eval(root, exp, "distance", {"checkpoint-10": {"eval_distance_metric_mean": std_v}})
        write_eval(root, exp, "atlantis_distance", {"checkpoint-10": {"eval_distance_metric_mean": atl_v}})
    return root


def views(root: Path, config, *names: str) -> dict[str, pd.DataFrame]:
    return compute(set(names), load(root, config).frame, config, Gaps())


@pytest.fixture
def seeded(tmp_path, config) -> pd.DataFrame:
    return views(write_seeded(tmp_path / "exp"), config, "seed_scores")["seed_scores"]


def row(table: pd.DataFrame, experiment: str, condition: str, task: str = "distance") -> pd.Series:
    part = table[(table["experiment"] == experiment) & (table["condition"] == condition) & (table["task"] == task)]
    assert len(part) == 1
    return part.iloc[0]


@pytest.mark.parametrize("condition, measure", sorted(EXPECTED))
def test_mean_std_n_against_hand_computed(seeded, condition, measure):
    r = row(seeded, "pt1_ft1-1", condition)
    values = EXPECTED[(condition, measure)]
    assert r[f"{measure}_mean"] == pytest.approx(statistics.mean(values))
    assert r[f"{measure}_std"] == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert r[f"{measure}_n"] == 2


def test_rows_are_seed_free_names_with_seed_free_baseline(seeded):
    assert set(seeded["experiment"]) == {"pt1", "pt1_ft1-1"}
    assert set(seeded["baseline_experiment"]) == {"pt1"}
    r = row(seeded, "pt1_ft1-1", "standard")
    assert (r["group"], r["index"], r["seeds"], r["n_seeds"], r["trained"]) == ("ft1", 1, "0,2", 2, True)
    assert r["baseline_mean"] == pytest.approx(4.5)
    assert row(seeded, "pt1", "standard")["value_mean"] == pytest.approx(4.5)


def test_missing_seed_lowers_n_not_the_mean(tmp_path, config):
    root = write_seeded(tmp_path / "exp")
    (root / "pt1_seed2_ft1-1" / "evals" / "atlantis_distance" / "eval_data" / "evaluation_results.json").unlink()
    table = views(root, config, "seed_scores")["seed_scores"]
    r = row(table, "pt1_ft1-1", "atlantis")
    assert (r["value_mean"], r["value_n"], r["n_seeds"]) == (8.0, 1, 2)
    assert math.isnan(r["value_std"]) and not r["missing"]


def test_seed_points_carry_every_seed_and_the_aggregate(tmp_path, config):
    v = views(write_seeded(tmp_path / "exp"), config, "seed_points", "scores")
    points, scores = v["seed_points"], v["scores"]
    assert len(points) == len(scores)
    dots = points[(points["model"] == "pt1_ft1-1") & (points["condition"] == "standard")]
    assert sorted(dots["value"]) == [2.0, 3.0]
    assert set(dots["value_mean"]) == {2.5} and set(dots["value_n"]) == {2}


def test_group_slices_get_the_averaged_baseline(seeded):
    """What a per-group figure receives from the runner: the group's rows plus the seed-free baseline."""
    slices = dict((keys["group"], part) for keys, part in split(SimpleNamespace(per=("group",)), seeded))
    assert list(slices) == ["ft1"]
    assert set(slices["ft1"]["experiment"]) == {"pt1", "pt1_ft1-1"}


def test_one_seed_tree_has_n_1_and_empty_std(tmp_path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=1, ft1=1, ft2=1, checkpoints=2, tasks=("distance", "crossing"))
    v = views(root, config, "seed_scores", "scores")
    table, scores = v["seed_scores"], v["scores"]
    assert len(table) == len(scores)
    assert set(table["value_n"]) == {1} and set(table["seeds"]) == {"0"}
    assert table["value_std"].isna().all()
    merged = scores.merge(table, left_on=["experiment", "condition", "task"],
                          right_on=["experiment", "condition", "task"])
    assert merged["value"].to_list() == pytest.approx(merged["value_mean"].to_list())


def test_one_seed_tree_still_renders(tmp_path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=1, ft1=1, ft2=0, checkpoints=2, tasks=("distance", "crossing"))
    out = tmp_path / "out"
    pipeline = Pipeline(config, Options(data=root, out=out, only=("comparison", "scores_by_seed"), jobs=1,
                                        progress=False))
    try:
        report = pipeline.run()
    finally:
        pipeline.close()
    assert report.exit_code == 0 and not report.failed
    for png in ("comparison/ft1_standard.png", "comparison/ft1_atlantis.png"):
        data = (out / png).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
    csv = pd.read_csv(io.StringIO((out / "tables" / "scores_by_seed.csv").read_text()))
    assert len(csv) == 2 * 2 * 2  # pt1 and pt1_ft1-1 x 2 conditions x 2 tasks
    assert set(csv["value_n"]) == {1} and csv["value_std"].isna().all()
    line = (out / "tables" / "scores_by_seed.csv").read_text().splitlines()[1]
    assert ",," in line  # the std cells are empty, not 0


@pytest.mark.parametrize("pattern", [
    r"^(?P<base>pt1)(_seed(?P<seed>\d+))?(?P<finetune>_(?P<group>ft\d+)-(?P<index>\d+))?$",
    r"^(?P<base>pt1)(?P<seedpart>_seed\d+)?(?P<finetune>_(?P<group>ft\d+)-(?P<index>\d+))?$",
])
def test_seed_groups_must_come_together(tmp_path, pattern):
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw["experiments"]["pattern"] = pattern
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"rules\.yaml: experiments\.pattern: .*seedpart"):
        load_config(path)


def test_seed_predictions_average_each_seeds_own_prediction(config):
    from analysis.seeds import seed_predictions
    rows = [  # experiment, seed, actual, predicted (each seed predicted from its own single-task runs)
        ("pt1_ft2-1", 1, 0.7, 0.5), ("pt1_seed2_ft2-1", 2, 0.3, 0.1), ("pt1_ft2-2", 1, 0.2, float("nan")),
    ]
    pred = pd.DataFrame([{"experiment": e, "group": "ft2", "seed": s, "condition": "standard",
                          "task": "distance", "kind": "error", "trained": True, "trained_on": "distance+angle",
                          "score": "score_toward_perfect", "actual": a, "predicted": p, "residual": a - p}
                         for e, s, a, p in rows])
    out = seed_predictions(pred, config).set_index("experiment")
    assert out.loc["pt1_ft2-1", ["actual", "predicted", "residual"]].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert out.at["pt1_ft2-1", "n_seeds"] == 2 and out.at["pt1_ft2-2", "n_seeds"] == 1
    assert math.isnan(out.at["pt1_ft2-2", "predicted"]) and math.isnan(out.at["pt1_ft2-2", "residual"])


def test_seed_curves_mean_per_step_against_hand_computed(tmp_path, config):
    root = tmp_path / "exp"
    for exp, points in {"pt1": {10: 4.0, 20: 6.0}, "pt1_seed2": {10: 5.0},  # seed 2's baseline stops early
                        "pt1_ft1-1": {10: 2.0, 20: 1.0}, "pt1_seed2_ft1-1": {10: 3.0, 20: 2.0}}.items():
        write_eval(root, exp, "distance",
                   {f"checkpoint-{s}": {"eval_distance_metric_mean": v} for s, v in points.items()})
    curves = views(root, config, "seed_curves")["seed_curves"]
    assert set(curves["experiment"]) == {"pt1", "pt1_ft1-1"}
    assert set(curves["baseline_experiment"]) == {"pt1"}
    ft = curves[curves["experiment"] == "pt1_ft1-1"].sort_values("step")
    assert list(ft["step"]) == [10, 20] and list(ft["value"]) == pytest.approx([2.5, 1.5])
    assert list(ft["seed_std"]) == pytest.approx([statistics.stdev([2.0, 3.0])] * 2)
    assert list(ft["n_seeds"]) == [2, 2] and ft["last_mean"].iloc[0] == pytest.approx(1.5)
    assert (ft["group"] == "ft1").all() and (ft["trained_on"] == "distance").all()
    base = curves[curves["experiment"] == "pt1"].sort_values("step")
    # seed 2 stopped at step 10: no mean of fewer seeds at step 20 (the line ends), n says 1
    assert base["value"].iloc[0] == pytest.approx(4.5) and base["value"].isna().iloc[1]
    assert list(base["n_seeds"]) == [2, 1] and base["seed_std"].isna().iloc[1]
    assert base["last_mean"].iloc[0] == pytest.approx((6.0 + 5.0) / 2)  # each seed's own last value


def test_seed_curves_split_keeps_the_baseline_with_each_group(small_tree, config):
    spec = SimpleNamespace(per=("group", "condition"))
    curves = views(small_tree, config, "seed_curves")["seed_curves"]
    for keys, part in split(spec, curves):
        assert set(part.loc[part["group"] == "baseline", "experiment"]) == {"pt1"}
        assert (part.loc[part["group"] == "baseline", "condition"] == keys["condition"]).all()
        assert (part["n_seeds"] == 1).all() and part["seed_std"].isna().all()


@pytest.mark.parametrize("experiment, source, folder", [
    ("pt1_ft2-9", "pt1_ft2-9/evals/t/eval_data/evaluation_results.json", "pt1_ft2-9/"),
    ("pt1_ft2-9", "revision/exp1/pt1_ft2-9/evals/t/eval_data/evaluation_results.json", "revision/exp1/pt1_ft2-9/"),
    ("a", "a/a/x.json", "a/a/"),  # the last folder of that name
    ("a", "a/b/a", "a/"),  # a file named as the experiment is not its folder
    ("ft", "ft1/ft_x/r.json", "ft (named in its files)"),  # names that only begin alike
    ("pt1", "results.json", "pt1 (named in its files)"),
])
def test_a_runs_folder_is_the_last_folder_named_as_its_experiment(experiment, source, folder):
    from analysis.seeds import _run_folder
    assert _run_folder(experiment, source) == folder
