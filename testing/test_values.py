"""Values and messages a run reports: non-finite numbers as missing values (one rule in the
loader, every reader), every n shown is the n used, counts that say read vs skipped, the
"empty file" / byte-order-mark / renamed-task messages."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

import run_all
from readers_helpers import rules
from testing_helpers import REPO, render_views, write_eval
from utils.loading import load
from utils.synthetic import write_tree

BAD = ["NaN", "Infinity", "-Infinity", "1e400", "1" + "0" * 400]  # as they stand in the file


def _evaluation_results(root: Path) -> tuple[Path, None]:
    metrics = ", ".join(f'"eval_distance_m{i}_mean": {tok}' for i, tok in enumerate(BAD))
    path = write_eval(root, "pt1", "distance", '{"checkpoint-10": {"eval_distance_metric_mean": 2.0, '
                      f'"eval_distance_metric_std": null, {metrics}}}}}')
    return path, None


def _jsonl(root: Path) -> tuple[Path, list]:
    lines = [f'{{"experiment": "pt1", "task": "distance", "metric": "m{i}", "value": {tok}}}'
             for i, tok in enumerate(BAD)]
    lines += ['{"experiment": "pt1", "task": "distance", "value": 2.0}',
              '{"experiment": "pt1", "task": "distance", "metric": "x", "value": "N/A"}']
    root.mkdir(parents=True)
    (root / "evals.jsonl").write_text("\n".join(lines) + "\n")
    return root / "evals.jsonl", [{"reader": "jsonl", "glob": "*.jsonl"}]


def _tables(root: Path) -> tuple[Path, list]:
    # in a text table "NaN" is the usual missing marker (pandas writes it), like "N/A": not counted
    rows = ["experiment,task,metric,value"] + [f"pt1,distance,m{i},{tok}" for i, tok in enumerate(BAD)]
    rows += ["pt1,distance,distance_metric,2.0", "pt1,distance,x,N/A"]
    root.mkdir(parents=True)
    (root / "long.csv").write_text("\n".join(rows) + "\n")
    return root / "long.csv", [{"reader": "tables", "glob": "*.csv"}]


def _hf_trainer(root: Path) -> tuple[Path, list]:
    entry = ", ".join(f'"eval_distance_m{i}_mean": {tok}' for i, tok in enumerate(BAD))
    text = (f'{{"global_step": 10, "log_history": [{{"step": 10, "epoch": 1.0, "eval_distance_metric_mean": 2.0, '
            f'"eval_distance_x_mean": null, {entry}}}]}}')
    (root / "pt1").mkdir(parents=True)
    (root / "pt1" / "trainer_state.json").write_text(text)
    return root / "pt1" / "trainer_state.json", [{"reader": "hf_trainer", "glob": "*/trainer_state.json"}]


def _lm_eval(root: Path) -> tuple[Path, list]:
    metrics = ", ".join(f'"m{i},none": {tok}' for i, tok in enumerate(BAD))
    text = ('{"results": {"distance": {"alias": "distance", "acc,none": 0.5, "acc_stderr,none": "N/A", '
            f'{metrics}}}}}, "config": {{"model_args": "pretrained=/runs/pt1/checkpoint-10"}}}}')
    folder = root / "pt1"
    folder.mkdir(parents=True)
    (folder / "results_2024-01-01T00-00-00.json").write_text(text)
    return folder / "results_2024-01-01T00-00-00.json", [{"reader": "lm_eval", "glob": "*/results_*.json"}]


@pytest.mark.parametrize("write", [_evaluation_results, _jsonl, _tables, _hf_trainer, _lm_eval],
                         ids=lambda f: f.__name__.lstrip("_"))
def test_non_finite_values_become_missing_and_are_counted_once_per_file(tmp_path, config, write):
    path, readers = write(tmp_path / "tree")
    cfg = config if readers is None else rules(tmp_path, readers=readers)
    result = load(tmp_path / "tree", cfg)
    assert not result.problems
    frame = result.frame
    bad = frame[frame["metric"].str.contains("m[0-4]$|m[0-4],", regex=True)]
    assert len(bad) == len(BAD) and bad["value"].isna().all()  # none is inf: all missing
    assert np.isfinite(frame["value"].dropna()).all()
    assert frame["value"].notna().sum() == 1  # the one real number (2.0 or 0.5) is kept
    # explicit missing markers (null, "N/A") are missing values too, but not counted as odd
    counted = len(BAD) - (write is _tables)
    assert [str(n) for n in result.notes] == [
        f"{path}: {counted} values not a finite number (NaN, Infinity or out of range), read as missing"]


def test_the_count_survives_the_parse_cache(tmp_path, config):
    from utils.loading import ParseCache
    _evaluation_results(tmp_path / "tree")
    cache = ParseCache(tmp_path / "parsed.pickle")
    first = load(tmp_path / "tree", config, cache)
    cache.save()
    again = load(tmp_path / "tree", config, ParseCache(tmp_path / "parsed.pickle"))
    assert again.parsed == [] and [str(n) for n in again.notes] == [str(n) for n in first.notes]


def _tree_with_a_nan_seed(root: Path) -> Path:
    """Two seeds; seed 2's last distance value of ft1-1 (standard) is NaN, its middle one Infinity."""
    write_tree(root, seeds=2, ft1=2, ft2=0, checkpoints=3)
    path = root / "pt1_seed2_ft1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json"
    data = json.loads(path.read_text())
    steps = list(data)
    data[steps[-1]]["eval_distance_metric_mean"] = float("nan")
    data[steps[1]]["eval_distance_metric_mean"] = float("inf")
    path.write_text(json.dumps(data))  # NaN and Infinity literals, as Python's json writes them
    return path


def test_a_run_reports_the_file_and_scores_csv_has_no_inf(tmp_path, capsys):
    path = _tree_with_a_nan_seed(tmp_path / "exp")
    out = tmp_path / "out"
    code = run_all.main(["--data", str(tmp_path / "exp"), "--out", str(out), "--only", "scores_csv",
                         "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("missing values:") == 1
    assert f"missing values: {path}: 2 values not a finite number" in err
    text = (out / "tables" / "scores.csv").read_text()
    assert "inf" not in text.lower()
    with open(out / "tables" / "scores.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if (r["run"], r["condition"], r["task"])
                   == ("pt1_seed2_ft1-1", "standard", "distance"))
    assert row["value"] == ""  # the last checkpoint's value: missing, not inf or nan text


@pytest.mark.parametrize("figure, measure", [("comparison", "value"), ("normalized", "score_toward_perfect")])
def test_a_bar_says_the_seeds_its_mean_is_over(tmp_path, config, figure, measure):
    _tree_with_a_nan_seed(tmp_path / "exp")
    from analysis.figure_data import seed_bars
    [(_, fig)], views = render_views(figure, tmp_path / "exp", config, only={"group": "ft1", "condition": "standard"})
    points = views["seed_points"]
    points = points[points["condition"] == "standard"]
    bars = seed_bars(points, measure, config)
    assert bars.n.loc["pt1_ft1-1", "distance"] == 1  # seed 2 has no number there
    assert bars.n.loc["pt1_ft1-2", "distance"] == 2
    assert "mean of 1–2 seeds" in fig.get_suptitle()
    assert bars.mean.loc["pt1_ft1-1", "distance"] == pytest.approx(
        points[(points["experiment"] == "pt1_ft1-1") & (points["task"] == "distance")][measure].iloc[0])


def test_the_forgetting_bars_say_the_seeds_their_means_are_over(tmp_path, config):
    _tree_with_a_nan_seed(tmp_path / "exp")
    [(_, fig)], views = render_views("raw_differences", tmp_path / "exp", config, only={"group": "ft1"})
    assert "; mean of 1–2 seeds, each against its own baseline" in fig.get_suptitle()
    from analysis.figure_data import seed_forgetting
    rows = seed_forgetting(views["seed_scores"], config).set_index(["experiment", "task"])
    assert rows.at[("pt1_ft1-1", "distance"), "n"] == 1 and rows.at[("pt1_ft1-2", "distance"), "n"] == 2


def test_the_curve_breaks_where_a_seed_has_no_value(tmp_path, config):
    _tree_with_a_nan_seed(tmp_path / "exp")
    [(_, fig)], views = render_views("checkpoints", tmp_path / "exp", config,
                                     only={"group": "ft1", "condition": "standard"}, extra=("curves",))
    curves = views["seed_curves"]
    curve = curves[(curves["experiment"] == "pt1_ft1-1") & (curves["task"] == "distance")
                   & (curves["condition"] == "standard")].sort_values("step")
    raw = views["curves"]
    first = raw[(raw["experiment"].isin(["pt1_ft1-1", "pt1_seed2_ft1-1"])) & (raw["task"] == "distance")
                & (raw["condition"] == "standard")].sort_values("step")
    assert list(curve["n_seeds"]) == [2, 1, 1]
    assert curve["value"].iloc[0] == pytest.approx(first.groupby("step")["value"].mean().iloc[0])
    assert curve["value"].iloc[1:].isna().all()  # not the one remaining seed's value: no jump
    ax = next(a for a in fig.axes if a.get_title() == "Distance")
    drawn = [ln.get_ydata() for ln in ax.get_lines() if len(ln.get_ydata()) == 3]
    assert any(np.isnan(np.asarray(y, dtype=float)[1:]).all() and np.isfinite(y[0]) for y in drawn)
    assert "fewer seeds: ft1-1 (n=1)" in [t.get_text() for t in ax.texts]  # why the line stops


def test_counts_say_read_and_skipped_and_where_the_gallery_is(small_tree, tmp_path, capsys):
    bad = write_eval(small_tree, "pt1_ft1-1", "angle", '{"checkpoint-1000": {"eval_angle')
    files = len(list(small_tree.rglob("evaluation_results.json")))
    out = tmp_path / "out"
    code = run_all.main(["--data", str(small_tree), "--out", str(out), "--only", "scores_csv", "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0 and f"skipped unreadable file: {bad}" in err
    assert f"{files} evaluation files, {files - 1} read, 1 skipped as unreadable, 1 output written," in err
    assert f"gallery: open {out / 'index.html'}" in err
    assert f"{files - 1} evaluation files read" in (out / "index.html").read_text()


@pytest.mark.parametrize("content, words", [("", "empty file"), ("\n\n", "empty file")])
def test_an_empty_file_says_so(small_tree, config, content, words):
    path = write_eval(small_tree, "pt1_ft1-1", "angle", content)
    [problem] = load(small_tree, config).problems
    assert str(problem) == f"{path}: {words}"


def test_a_byte_order_mark_is_read(small_tree, config):
    path = write_eval(small_tree, "pt1_ft1-1", "angle", "")
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"checkpoint-5": {"eval_angle_metric_mean": 3.5}}).encode())
    result = load(small_tree, config)
    assert not result.problems
    rows = result.frame[(result.frame["source"].str.startswith("pt1_ft1-1/evals/angle/"))]
    assert rows["value"].tolist() == [3.5]


def test_a_renamed_task_names_the_rules_key(small_tree, tmp_path, capsys):
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw["tasks"]["dist"] = raw["tasks"].pop("distance")
    raw["training"] = {g: {i: ["dist" if t == "distance" else t for t in ts] for i, ts in m.items()}
                       for g, m in raw["training"].items()}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(raw))
    code = run_all.main(["--data", str(small_tree), "--out", str(tmp_path / "out"), "--config",
                         str(tmp_path / "rules.yaml"), "--only", "scores_csv", "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    gap = next(line for line in err.splitlines() if "left out of scores" in line)
    assert code == 0
    assert "distance (add tasks.distance to rules.yaml" in gap
    assert "rules.yaml has no evaluations for tasks.dist: renamed?" in gap


def test_a_tree_whose_every_file_is_unreadable_reports_them_and_fails_nothing(tmp_path, capsys):
    bad = write_eval(tmp_path / "exp", "pt1", "angle", '{"checkpoint-1')
    out = tmp_path / "out"
    code = run_all.main(["--data", str(tmp_path / "exp"), "--out", str(out), "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0 and "FAILED" not in err and f"skipped unreadable file: {bad}" in err
    assert "1 evaluation file, 0 read, 1 skipped as unreadable" in err
    assert (out / "tables" / "scores.csv").is_file() and (out / "index.html").is_file()
