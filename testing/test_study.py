"""Issue 16: the researcher's whole study (their layout, naming and clip), end to end.

The tree is testing/study_helpers.py's: originals at the root without a seed suffix, seeds 1-3
under revision/exp1/, families ftwb1/ftwb2, out-of-order checkpoint keys, multi_task folders; the
rules are the shipped ones with only the pattern's family and the training map's keys renamed.
Expected numbers are computed here with plain Python from the values written, not by analysis/.
"""
from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

import run_all
from study_helpers import (FTWB1, FTWB2, SEEDS, TASKS, members, run_folder, run_name, seed_mean, seed_score,
                           study_rules, write_study)
from utils.config import load_config
from utils.errors import ConfigError

PNG = b"\x89PNG\r\n\x1a\n"
TABLES = ("scores_csv", "scores_by_seed", "predictions_csv", "summary")


def run(*args) -> int:
    return run_all.main([*map(str, args), "--jobs", "1", "-q"])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The study tree and the values written (written once for the module; tests must not change it)."""
    root = tmp_path_factory.mktemp("study") / "experiments"
    return root, write_study(root)


@pytest.fixture(scope="module")
def rendered(study, tmp_path_factory):
    """The tables of one run on the study with the renamed rules, and what it printed."""
    root, values = study
    base = tmp_path_factory.mktemp("rendered")
    rules, out = study_rules(base / "rules.yaml"), base / "out"
    code = run_all.main(["--data", str(root), "--out", str(out), "--config", str(rules), "--jobs", "1", "-q",
                         "--only", *TABLES, "residuals"])
    return code, out


@pytest.fixture(scope="module")
def clipped(study, tmp_path_factory):
    root, _ = study
    base = tmp_path_factory.mktemp("clipped")
    rules, out = study_rules(base / "rules.yaml", scores={"clip": [0, 1.5]}), base / "out"
    code = run_all.main(["--data", str(root), "--out", str(out), "--config", str(rules), "--jobs", "1", "-q",
                         "--only", *TABLES, "heatmap"])
    return code, out


def by_seed(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / "scores_by_seed.csv", dtype={"seeds": str}).set_index(
        ["experiment", "condition", "task"])


def score_column(cond: str) -> str:
    return "score_toward_perfect" if cond == "standard" else "score_gap_closing"


# --- the study as a whole -------------------------------------------------------------------------

def test_every_experiment_has_its_four_seeds_and_independent_seed_means(study, rendered):
    root, values = study
    code, out = rendered
    assert code == 0
    table = by_seed(out)
    names = ["pt1"] + [f"pt1_{m}" for m, _ in members()]
    assert sorted(set(table.index.get_level_values(0))) == sorted(names)
    assert set(table["seeds"]) == {"0,1,2,3"} and set(table["n_seeds"]) == {4}
    checked = 0
    for member, _ in members():
        for task in TASKS:
            for cond in ("standard", "atlantis"):
                got = table.loc[(f"pt1_{member}", cond, task), f"{score_column(cond)}_mean"]
                assert got == pytest.approx(seed_mean(values, member, cond, task), rel=1e-6, abs=1e-9)
                checked += 1
    assert checked == (len(FTWB1) + len(FTWB2)) * len(TASKS) * 2


def test_with_their_clip_each_seed_is_clipped_before_the_mean(study, clipped):
    root, values = study
    code, out = clipped
    assert code == 0
    table = by_seed(out)
    touched = 0
    for member, _ in members():
        for task in TASKS:
            for cond in ("standard", "atlantis"):
                want = seed_mean(values, member, cond, task, clip=(0.0, 1.5))
                got = table.loc[(f"pt1_{member}", cond, task), f"{score_column(cond)}_mean"]
                assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
                touched += want != pytest.approx(seed_mean(values, member, cond, task))
    assert touched > 20  # the clip changes many cells, in both directions (see the next test)


def test_scores_csv_keeps_the_raw_score_beside_the_clipped_one(study, clipped):
    _, values = study
    _, out = clipped
    scores = pd.read_csv(out / "tables" / "scores.csv")
    gap = scores.dropna(subset=["score_gap_closing_raw"])
    assert (gap["score_gap_closing_raw"] > 1.5).any() and (gap["score_gap_closing_raw"] < 0).any()
    assert gap["score_gap_closing"].between(0, 1.5).all()
    row = scores[(scores["run"] == "pt1_seed2_ftwb1-1") & (scores["condition"] == "atlantis")
                 & (scores["task"] == "distance")].iloc[0]
    raw = seed_score(values, "ftwb1-1", 2, "atlantis", "distance")
    assert row["score_gap_closing_raw"] == pytest.approx(raw)
    assert row["score_gap_closing"] == pytest.approx(min(1.5, max(0.0, raw)))


def test_figures_and_summary_say_the_clip(clipped):
    _, out = clipped
    summary = (out / "summary.md").read_text()
    assert "each seed's score clipped to [0, 1.5] before the mean" in summary
    assert (out / "heatmap" / "ftwb1.png").read_bytes()[:8] == PNG


def test_without_clip_there_are_no_raw_columns_and_no_clip_sentence(rendered):
    _, out = rendered
    assert "score_gap_closing_raw" not in pd.read_csv(out / "tables" / "scores.csv", nrows=1).columns
    assert "clipped to" not in (out / "summary.md").read_text()


# --- 1. seeds -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, seed, model, baseline", [
    ("pt1_ftwb2-9", 0, "pt1_ftwb2-9", "pt1"),
    ("pt1_seed1_ftwb2-9", 1, "pt1_ftwb2-9", "pt1_seed1"),
    ("pt1_seed3", 3, "pt1", "pt1_seed3"),
])
def test_an_unsuffixed_run_is_its_own_seed(tmp_path, name, seed, model, baseline):
    config = load_config(study_rules(tmp_path / "rules.yaml"))
    info = config.parse_experiment(name)
    assert (info.seed, info.model, info.baseline) == (seed, model, baseline)


def test_per_seed_rows_keep_the_original_apart_from_seed_1(study, rendered):
    _, out = rendered
    scores = pd.read_csv(out / "tables" / "scores.csv")
    rows = scores[(scores["experiment"] == "pt1_ftwb2-3") & (scores["task"] == "inside")
                  & (scores["condition"] == "standard")]
    assert sorted(rows["seed"]) == list(SEEDS)
    assert dict(zip(rows["seed"], rows["baseline_run"])) == {
        0: "pt1", 1: "pt1_seed1", 2: "pt1_seed2", 3: "pt1_seed3"}


@pytest.mark.parametrize("copy_to, second", [
    ("revision/exp1/pt1_ftwb1-2", "revision/exp1/pt1_ftwb1-2/"),  # one folder name at two places
    ("pt1_seed0_ftwb1-2", "pt1_seed0_ftwb1-2/"),  # seed 0 by name and by having no suffix
])
def test_two_runs_claiming_one_seed_stop_the_run_naming_both(study, tmp_path, capsys, copy_to, second):
    root = tmp_path / "experiments"
    shutil.copytree(run_folder(study[0], 0, "ftwb1-2"), root / "pt1_ftwb1-2")
    shutil.copytree(run_folder(study[0], 0), root / "pt1")
    shutil.copytree(root / "pt1_ftwb1-2", root / copy_to)
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--config", study_rules(tmp_path / "rules.yaml"),
               "--only", "scores_csv") == 2
    err = capsys.readouterr().err
    assert "pt1_ftwb1-2 seed 0 (no seed part in the name) is claimed by 2 runs: " in err
    assert f"pt1_ftwb1-2/, {second}" in err or f"{second}, pt1_ftwb1-2/" in err
    assert not (out / "tables" / "scores.csv").exists()


# --- 2. nested experiments --------------------------------------------------------------------------

def test_the_shipped_glob_finds_experiments_at_any_depth(study, rendered):
    root, _ = study
    _, out = rendered
    scores = pd.read_csv(out / "tables" / "scores.csv")
    assert set(scores["run"]) >= {run_name(s, "ftwb1-7") for s in SEEDS}
    written = [p for p in root.rglob("evaluation_results.json") if "multi_task" not in p.parts]
    assert len(scores.dropna(subset=["value"])) == len(written)  # every file, once, at the last checkpoint
    assert set(scores["step"]) == {3000}


# --- 3. linked run folders ----------------------------------------------------------------------------

def test_a_linked_run_folder_is_read_and_a_loop_ends(study, tmp_path):
    root = tmp_path / "experiments"
    storage = tmp_path / "other_storage"
    shutil.copytree(run_folder(study[0], 0), root / "pt1")
    shutil.copytree(run_folder(study[0], 0, "ftwb1-1"), storage / "pt1_ftwb1-1")
    (root / "pt1_ftwb1-1").symlink_to(storage / "pt1_ftwb1-1", target_is_directory=True)
    (storage / "pt1_ftwb1-1" / "evals" / "back").symlink_to(root, target_is_directory=True)  # a loop
    (root / "again").symlink_to(storage, target_is_directory=True)  # the same real folder, twice
    out = tmp_path / "out"
    rules = study_rules(tmp_path / "rules.yaml")
    assert run("--data", root, "--out", out, "--config", rules, "--only", "scores_csv") == 0
    scores = pd.read_csv(out / "tables" / "scores.csv")
    linked = scores[scores["run"] == "pt1_ftwb1-1"]
    assert len(linked) == 14 and linked["value"].notna().all()
    # a change inside the linked folder is seen: the next run redraws instead of the no-op path
    target = storage / "pt1_ftwb1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json"
    target.write_text(target.read_text().replace('"eval_distance_metric_mean": ', '"eval_distance_metric_mean": 1'))
    assert run("--data", root, "--out", out, "--config", rules, "--only", "scores_csv") == 0
    after = pd.read_csv(out / "tables" / "scores.csv")
    row = after[(after["run"] == "pt1_ftwb1-1") & (after["task"] == "distance")
                & (after["condition"] == "standard")]
    before = linked[(linked["task"] == "distance") & (linked["condition"] == "standard")]
    assert float(row["value"].iloc[0]) != float(before["value"].iloc[0])


# --- 4. a family without a training map ----------------------------------------------------------------

def test_a_family_missing_from_training_is_named_with_what_is_left_out(study, tmp_path, capsys):
    root, _ = study
    rules = study_rules(tmp_path / "rules.yaml", training=False)  # training: still names ft1, ft2
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--config", rules, "--only", "predictions_csv") == 0
    err = capsys.readouterr().err
    assert ("gap: families ftwb1, ftwb2 not named under training: in rules.yaml (it names ft1, ft2): their "
            "trained tasks are unknown, so the trained-task outlines, the prediction figures and tables") in err
    assert pd.read_csv(out / "tables" / "predictions.csv").empty


def test_a_later_family_name_is_expressible_with_the_pattern(tmp_path):
    rules = study_rules(tmp_path / "rules.yaml")
    text = rules.read_text().replace(r"(?P<group>ftwb\d+)-(?P<index>\d+)",
                                     r"(?P<group>wide_ftwb|ftwb\d+)-?(?P<index>\d+)")
    rules.write_text(text)
    config = load_config(rules)
    wide, plain = config.parse_experiment("pt1_wide_ftwb1"), config.parse_experiment("pt1_ftwb2-4")
    assert (wide.group, wide.index, wide.baseline, wide.seed) == ("wide_ftwb", 1, "pt1", 0)
    assert (plain.group, plain.index, plain.baseline) == ("ftwb2", 4, "pt1")
    assert config.parse_experiment("pt1_seed2_wide_ftwb1").model == "pt1_wide_ftwb1"


# --- 5. degenerate baselines -----------------------------------------------------------------------------

def test_degenerate_baselines_are_named_and_their_cells_are_na_with_the_reason(study, tmp_path, capsys):
    root = tmp_path / "experiments"
    for member in (None, "ftwb1-1", "ftwb1-2"):
        shutil.copytree(run_folder(study[0], 0, member), root / run_name(0, member))
    evals = root / "pt1" / "evals"
    # reversed gap on compass (accuracy): better on atlantis than on standard data
    for folder, value in (("compass", 0.6), ("atlantis_compass", 0.9)):
        (evals / folder / "eval_data" / "evaluation_results.json").write_text(
            f'{{"checkpoint-3000": {{"eval_compass_metric_mean": {value}}}}}')
    # an error of exactly 0 on standard angle
    (evals / "angle" / "eval_data" / "evaluation_results.json").write_text(
        '{"checkpoint-3000": {"eval_angle_metric_mean": 0.0}}')
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--config", study_rules(tmp_path / "rules.yaml"),
               "--only", "scores_csv", "heatmap") == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("gap: baseline pt1, task")]
    assert ("gap: baseline pt1, task compass: reversed gap: the baseline is better out of distribution than on "
            "standard data; gap-closing score n/a in 3 cell(s): pt1 (atlantis), pt1_ftwb1-1 (atlantis), "
            "pt1_ftwb1-2 (atlantis)") in err
    assert any(line.startswith("gap: baseline pt1, task angle: the baseline's error is exactly 0; fold change "
                               "and every score n/a in 3 cell(s): pt1 (standard)") for line in lines)
    assert any("task angle: the baseline's error on standard data is exactly 0" in line for line in lines)
    assert len(lines) == 3
    scores = pd.read_csv(out / "tables" / "scores.csv").set_index(["run", "condition", "task"])
    cell = scores.loc[("pt1_ftwb1-1", "atlantis", "compass")]
    assert math.isnan(cell["score_gap_closing"]) and cell["note"].startswith("reversed gap")
    assert math.isnan(scores.loc[("pt1_ftwb1-2", "standard", "angle"), "score_toward_perfect"])
    assert scores.loc[("pt1_ftwb1-2", "standard", "angle"), "note"] == "the baseline's error is exactly 0"
    assert pd.isna(scores.loc[("pt1_ftwb1-2", "standard", "distance"), "note"])
    assert (out / "heatmap" / "ftwb1.png").read_bytes()[:8] == PNG


# --- 6. clip: rules.yaml validation ----------------------------------------------------------------------

@pytest.mark.parametrize("clip, message", [
    ("[0]", "scores.clip: expected [low, high] (two numbers), got [0]"),
    ("[1.5, 0]", "scores.clip: low must be below high, got [1.5, 0]"),
    ("[0, high]", "scores.clip: expected [low, high] (two numbers), got [0, 'high']"),
])
def test_a_bad_clip_names_the_file_and_key(tmp_path, clip, message):
    rules = study_rules(tmp_path / "rules.yaml")
    rules.write_text(rules.read_text().replace("clip: null", f"clip: {clip}"))
    with pytest.raises(ConfigError) as err:
        load_config(rules)
    assert str(err.value) == f"{rules}: {message}"


def test_an_unknown_scores_key_and_a_non_boolean_toggle_are_config_errors(tmp_path):
    rules = study_rules(tmp_path / "rules.yaml", scores={"clp": [0, 1]})
    with pytest.raises(ConfigError, match=r"rules.yaml: scores.clp: unknown key \(allowed: clip\)"):
        load_config(rules)
    rules = study_rules(tmp_path / "rules.yaml", plots={"seed_heatmap": "yes"})
    with pytest.raises(ConfigError, match=r"rules.yaml: plots.seed_heatmap: expected true or false"):
        load_config(rules)


# --- 7. what their scripts made: per-seed heatmaps, predictions, residuals, trained vs transfer ----------

def test_per_seed_heatmaps_are_off_by_default_and_one_per_group_and_seed_when_on(study, tmp_path):
    root, _ = study
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--config", study_rules(tmp_path / "a.yaml"),
               "--only", "heatmap_by_seed") == 0
    assert not (out / "heatmap_by_seed").exists()
    rules = study_rules(tmp_path / "b.yaml", plots={"seed_heatmap": True})
    assert run("--data", root, "--out", out, "--config", rules, "--only", "heatmap_by_seed") == 0
    written = sorted(p.name for p in (out / "heatmap_by_seed").iterdir())
    assert written == sorted(f"{g}_seed{s}.png" for g in ("ftwb1", "ftwb2") for s in SEEDS)
    assert (out / "heatmap_by_seed" / "ftwb2_seed0.png").read_bytes()[:8] == PNG


def test_predictions_csv_is_the_best_single_task_run_of_the_same_seed(study, rendered):
    _, values = study
    _, out = rendered
    preds = pd.read_csv(out / "tables" / "predictions.csv")
    single = {t[0]: f"ftwb1-{i}" for i, t in FTWB1.items()}
    # toward perfect on both conditions, gap closing out of distribution only
    assert len(preds) == len(FTWB2) * len(SEEDS) * len(TASKS) * 3
    for r in preds.itertuples():
        member = r.experiment.split("_")[-1]
        seed = 0 if "_seed" not in r.experiment else int(r.experiment.split("_seed")[1].split("_")[0])
        trained = FTWB2[int(member.split("-")[1])]
        options = {single[t]: seed_score(values, single[t], seed, r.condition, r.task, r.score) for t in trained}
        best = max(options, key=options.get)
        assert r.predicted == pytest.approx(options[best])
        assert r.predicted_from == run_name(seed, best)
        assert r.actual == pytest.approx(seed_score(values, member, seed, r.condition, r.task, r.score))
        assert r.residual == pytest.approx(r.actual - r.predicted)
        assert r.score == "score_toward_perfect" or r.condition == "atlantis"


def test_the_residual_histogram_is_written_for_the_multi_task_family(rendered):
    _, out = rendered
    assert [p.name for p in (out / "residuals").iterdir()] == ["ftwb2.png"]
    assert (out / "residuals" / "ftwb2.png").read_bytes()[:8] == PNG


def test_summary_has_trained_vs_transfer_mean_and_std_per_family(study, rendered):
    _, values = study
    _, out = rendered
    summary = (out / "summary.md").read_text()
    assert "## Trained vs transfer tasks per family" in summary
    for family, training in (("ftwb1", FTWB1), ("ftwb2", FTWB2)):
        for cond, label, score in (("standard", "Standard", "score toward perfect"),
                                   ("atlantis", "Atlantis (OOD)", "gap-closing score")):
            cells = {"trained": [], "transfer": []}
            for i, trained in training.items():
                for task in TASKS:
                    cells["trained" if task in trained else "transfer"].append(
                        seed_mean(values, f"{family}-{i}", cond, task))
            parts = []
            for subset, xs in cells.items():
                mean = sum(xs) / len(xs)
                std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
                parts.append(f"{subset} {mean:.2f} ± {std:.2f} ({len(xs)} cells)")
            assert f"- {family}, {label}, {score}: {'; '.join(parts)}." in summary


def test_docs_describe_a_study_over_time():
    from testing_helpers import REPO
    text = "\n".join(p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])
    assert "A study over time" in text
    for words in ("revision/exp1", "scores.clip", "seed 0", "seed_heatmap"):
        assert words in text, words


def test_a_link_inside_the_root_to_the_root_is_not_walked_again(study, tmp_path):
    from utils.walk import files_under
    root = tmp_path / "experiments"
    shutil.copytree(run_folder(study[0], 0), root / "pt1")
    (root / "pt1" / "up").symlink_to(root, target_is_directory=True)
    (root / "also_pt1").symlink_to(root / "pt1", target_is_directory=True)
    rels = [rel for _, rel in files_under(os.fspath(root))]
    assert len(rels) == len(set(rels)) == 14 and all(r.startswith("pt1/evals/") for r in rels)


def test_a_tree_with_no_evaluation_files_says_so_and_exits_2(tmp_path, capsys):
    """What a tree of unfollowed links used to give: two outputs failing on a pandas merge, exit 1."""
    (tmp_path / "experiments" / "empty_run").mkdir(parents=True)
    out = tmp_path / "out"
    assert run("--data", tmp_path / "experiments", "--out", out) == 2
    err = capsys.readouterr().err
    assert "FAILED" not in err and f"no evaluation files under {tmp_path / 'experiments'}" in err
    assert not (out / "tables" / "scores.csv").exists()
