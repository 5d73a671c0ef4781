"""Zero-config end to end on the real result files (../shared/real_formats/tree): the shipped rules
and no flags read every format, every evaluation once under its own run, infer the tasks out loud,
draw what needs no baseline; `--init` writes rules that give the same tables; `--baseline` adds the
normalized figures."""
import json
import logging
import re

import pandas as pd
import pytest

import run_all
from readers_helpers import REAL, copy_real, real
from testing_helpers import write_trainer_run
from utils.readers import is_bookkeeping

PNG = b"\x89PNG\r\n\x1a\n"
KEY = ["experiment", "condition", "task", "step", "metric", "statistic"]
SUBSET = ["hf_runs/whisper-small-hi", "hf_runs/dnabert2", "hf_runs/roberta-lora-agnews", "hf_runs/t5-cnn-summarization",
          "lm_eval/pythia-v1", "lm_eval/asdiv"]


def run(*args):
    return run_all.main([*map(str, args), "--jobs", "1", "-q"])


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """metrics.csv and scores.csv of the whole real tree, shipped rules, no flags; and the log."""
    real("hf_runs")
    out = tmp_path_factory.mktemp("out")
    handler = _Collect()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        code = run_all.main(["--data", str(REAL), "--out", str(out), "--only", "metrics_csv", "scores_csv",
                             "--jobs", "1"])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return code, pd.read_csv(out / "tables" / "metrics.csv"), pd.read_csv(out / "tables" / "scores.csv"), handler.lines


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_exit_0_and_every_record_once(whole):
    code, metrics, _, _ = whole
    assert code == 0
    assert not metrics.duplicated(KEY).any()
    assert set(metrics["experiment"]) >= {
        "whisper-small-hi", "dnabert2", "vit-irrigation", "roberta-lora-agnews", "wangchanberta-sentiment",
        "t5-cnn-summarization", "bart-large-cnn-samsum", "pythia-v1.1-160m", "gpt-3.5-turbo-0125",
        "Meta-Llama-3-8B-Instruct", "Meta-Llama-3-8B-Instruct+epoch_5", "Meta-Llama-3-8B-Instruct+epoch_20",
        "mamba-130m", "nl2foam_sft_0__8__1765350318", "Qwen3-8B"}
    assert not [m for m in metrics["metric"].unique() if is_bookkeeping(m)]


def test_wall_times_where_the_files_have_them(whole):
    """Event files, MLflow, W&B, Sacred metrics and Ray's result.json give each record its time; the
    Trainer's and lm-eval's JSON files have none, but a Trainer number kept from trainer_state.json
    over its event file's agreeing copy takes that copy's time (only in a run folder with event files)."""
    metrics = whole[1]
    timed, src = metrics["wall_time"].notna(), metrics["source"]
    has = (src.str.contains("tfevents") | src.str.startswith("mlflow/") | src.str.endswith("wandb-summary.json")
           | src.str.endswith("/result.json") | src.str.startswith("sacred/") & src.str.endswith("/metrics.json"))
    assert has.sum() > 1000 and timed[has].all()
    assert not timed[src.str.startswith("lm_eval/")].any()
    json_timed = set(src[timed & src.str.endswith(("trainer_state.json", "_results.json"))])
    assert json_timed  # the Trainer runs with event files
    for source in json_timed:
        run = source.split("/checkpoint-")[0] if "/checkpoint-" in source else source.rsplit("/", 1)[0]
        folder = REAL / run
        assert any(folder.rglob("*tfevents*")), source
    assert metrics.loc[timed, "wall_time"].between(1.6e9, 1.8e9).all()  # seconds since the epoch: 2020 to 2027


def test_every_logged_trainer_evaluation_once_under_its_run(whole):
    metrics = whole[1].set_index(["experiment", "condition", "step", "metric"])
    for state in sorted((REAL / "hf_runs").rglob("trainer_state.json")):
        if state.read_bytes().startswith(b"version https://git-lfs"):
            continue
        run = state.parent.parent.name if state.parent.name.startswith("checkpoint-") else state.parent.name
        for entry in json.loads(state.read_text())["log_history"]:
            for key, value in entry.items():
                if key != "step" and not is_bookkeeping(key):
                    cond, name = ("eval", key[5:]) if key.startswith("eval_") else ("train", key)
                    assert metrics.loc[(run, cond, entry["step"], name), "value"] == pytest.approx(value, rel=1e-12)


def test_every_lm_eval_metric_once_under_its_model(whole):
    metrics = whole[1]
    for path, model in [("lm_eval/out/results.json", "gpt-3.5-turbo-0125"),
                        ("lm_eval/results-0.4.3/state-spaces__mamba-130m/results_2025-03-06T19-55-10.366940.json",
                         "mamba-130m")]:
        results = json.loads((REAL / path).read_text())["results"]
        mine = metrics[metrics["experiment"] == model]
        want = {(task, f"{task}_{k.split(',')[0]}") for task, ms in results.items() for k, v in ms.items()
                if isinstance(v, (int, float)) and "_stderr" not in k and k != "sample_len"}
        got = set(zip(mine.loc[mine["statistic"] == "value", "task"], mine.loc[mine["statistic"] == "value", "metric"]))
        assert got == want


def test_the_log_folds_the_inferred_tasks_into_one_line_with_their_count(whole):
    """150 inferred tasks are one line (a count, the first five with their direction), the tasks left
    out another; --init writes them all (test_inference)."""
    _, _, scores, lines = whole
    folded = [line for line in lines if line.startswith("inferred ")]
    assert len(folded) == 1 and not folded[0].startswith("inferred task "), folded
    m = re.match(r"inferred (\d+) tasks from their metrics' names: (.*) \+ (\d+) more", folded[0])
    assert m and int(m.group(1)) == 5 + int(m.group(3)) and int(m.group(1)) >= scores["task"].nunique()
    named = dict(re.findall(r"(\S+) \((higher|lower) is better\)", m.group(2)))
    scored = {k: v for k, v in named.items() if re.search(r"(accuracy|f1|precision|recall|loss)", k)}
    assert len(named) == 5 and scored  # the first five by name, each with its direction
    assert all(v == ("lower" if "loss" in k else "higher") for k, v in scored.items()), named
    assert any(line.startswith("reader hf_trainer: ") for line in lines)
    assert any(line.startswith("reader lm_eval: ") for line in lines)
    left = [line for line in lines if "left out of the figures" in line]  # listed, not guessed
    assert len(left) == 1 and re.match(r"\d+ task\(s\) left out", left[0]) and "--init" in left[0], left


def test_figures_without_a_baseline(tmp_path):
    root = copy_real(SUBSET, tmp_path / "t")
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--only", "overview", "suite_table", "last_values", "suite_subtasks",
               "normalized", "comparison", "scores_csv") == 0
    for rel in ["overview/hf_runs_1.png", "overview/lm_eval_1.png", "suite/hf_runs_table.png",
                "suite/lm_eval_table.png", "suite/hf_runs_dots.png"]:
        assert (out / rel).read_bytes()[:8] == PNG, rel
    assert not (out / "normalized").exists() and not (out / "comparison").exists()  # they need a baseline
    assert not (out / "overview" / "hf_runs_2.png").exists()  # one page: fewer than 12 panels
    page = (out / "index.html").read_text()
    # the run groups first, overviews before the table and dots, a benchmark's subtasks folded behind them
    at = {rel: page.index(f'data-rel="{rel}"') for rel in ("overview/hf_runs_1.png", "suite/hf_runs_table.png",
                                                           "overview/lm_eval_1.png", "suite/lm_eval_mmlu.png")}
    assert at["overview/hf_runs_1.png"] < at["suite/hf_runs_table.png"] < at["overview/lm_eval_1.png"]
    assert page.rindex('<details class="fold detail">', 0, at["suite/lm_eval_mmlu.png"]) > at["overview/lm_eval_1.png"]
    assert page.index('id="filter"') < at["overview/hf_runs_1.png"]
    summary = (out / "tables" / "scores.csv").read_text()
    assert "4262" not in summary


def test_a_named_baseline_adds_the_normalized_figures(tmp_path):
    root = copy_real(SUBSET[:3], tmp_path / "t")
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--baseline", "dnabert2", "--only", "normalized", "scores_csv") == 0
    assert (out / "normalized" / "hf_runs_eval.png").read_bytes()[:8] == PNG
    scores = pd.read_csv(out / "tables" / "scores.csv")
    row = scores[(scores["run"] == "roberta-lora-agnews") & (scores["task"] == "loss")].iloc[0]
    base = scores[(scores["run"] == "dnabert2") & (scores["task"] == "loss")].iloc[0]
    assert row["baseline_run"] == "dnabert2" and row["baseline"] == base["value"]
    assert row["raw_diff"] == pytest.approx(row["value"] - base["value"])


def test_init_writes_rules_that_give_the_same_tables(tmp_path):
    real("hf_runs")
    import shutil
    root = tmp_path / "tree"
    shutil.copytree(REAL, root)
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("--data", root, "--out", a, "--only", "metrics_csv", "scores_csv") == 0
    assert run("--init", root) == 0
    written = (root / "rules.yaml").read_text()
    assert "kind: error" in written and '"wer"' in written and "pattern: null" in written
    assert run("--config", root / "rules.yaml", "--out", b, "--only", "metrics_csv", "scores_csv") == 0
    for table in ("metrics.csv", "scores.csv"):
        assert (a / "tables" / table).read_bytes() == (b / "tables" / table).read_bytes()
    assert run("--init", root) == 2  # never overwrites
    assert (root / "rules.yaml").read_text() == written


def test_the_sweep_layout_draws_no_run_figures(small_tree, tmp_path):
    out = tmp_path / "out"
    assert run("--data", small_tree, "--out", out, "--only", "overview", "suite_table", "last_values",
               "suite_subtasks", "scores_csv") == 0
    assert not (out / "overview").exists() and not (out / "suite").exists()
    assert "runs" not in set(pd.read_csv(out / "tables" / "scores.csv")["group"])


def test_seeds_shown_by_run_names_are_averaged(tmp_path, config):
    from analysis.runs import run_curves, run_values
    from analysis.scores import build_curves, build_scores
    from utils.inference import with_inferred
    from utils.loading import load
    root = tmp_path / "runs"
    write_trainer_run(root / "bert-seed1", [0.70, 0.80])
    write_trainer_run(root / "bert-seed2", [0.72, 0.90])
    write_trainer_run(root / "roberta", [0.60, 0.75])
    frame = load(root, config).frame
    cfg = with_inferred(config, frame, say=False)
    values = run_values(build_scores(frame, cfg))
    acc = values[values["task"] == "accuracy"].set_index("experiment")
    assert acc.loc["bert-seed2", "model"] == "bert" and acc.loc["bert-seed2", "seed"] == 2
    assert acc.loc["bert-seed1", "value_mean"] == pytest.approx(0.85)
    assert acc.loc["bert-seed1", "n_seeds"] == 2 and acc.loc["roberta", "n_seeds"] == 1
    assert acc.loc["bert-seed1", "value_std"] == pytest.approx(pd.Series([0.8, 0.9]).std())
    curves = run_curves(build_curves(frame, cfg))
    bert = curves[(curves["task"] == "accuracy") & (curves["model"] == "bert")].set_index("step")
    assert bert.loc[200, "value"] == pytest.approx(0.85) and bert.loc[200, "n_seeds"] == 2
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--only", "overview", "suite_table") == 0
    assert (out / "overview" / "runs_1.png").read_bytes()[:8] == PNG
    assert (out / "suite" / "runs_table.png").read_bytes()[:8] == PNG


def test_a_rerun_redraws_only_what_changed(tmp_path):
    root = tmp_path / "runs"
    write_trainer_run(root / "bert", [0.70, 0.80])
    write_trainer_run(root / "roberta", [0.60, 0.75])
    out = tmp_path / "out"
    only = ("--only", "overview", "suite_table", "last_values")
    assert run("--data", root, "--out", out, *only) == 0
    drawn = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert len(drawn) == 3  # the overview, the table and the dots of the one run group
    (root / "bert" / "trainer_state.json").unlink()
    write_trainer_run(root / "bert", [0.70, 0.80])  # rewritten, same numbers: nothing to redraw
    assert run("--data", root, "--out", out, *only) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == drawn
    write_trainer_run(root / "electra", [0.5, 0.9])  # a new run: every figure of the group changes
    assert run("--data", root, "--out", out, *only) == 0
    assert all(p.stat().st_mtime_ns != t for p, t in drawn.items())


def test_runs_outside_the_pattern_raise_no_training_map_warning(tmp_path, capsys):
    """Folders that group zero-config runs (hf_runs, lm_eval) are not fine-tuning families: no
    'not named under training:' line for them."""
    real("hf_runs")
    code = run_all.main(["--data", str(REAL), "--out", str(tmp_path / "out"), "--only", "scores_csv",
                         "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "run(s) not matching experiments.pattern" in err
    assert "not named under training" not in err


def _rules_with_baseline(tmp_path, baseline) -> str:
    """The shipped rules with no naming pattern and `experiments.baseline` set to `baseline`."""
    import yaml
    raw = yaml.safe_load((run_all.Path(run_all.__file__).parent / "rules.yaml").read_text())
    raw["experiments"] = {"pattern": None, "baseline": baseline}
    raw["data"].pop("root", None)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_each_run_group_is_scored_against_its_own_baseline(tmp_path, capsys):
    root = copy_real(["hf_runs/dnabert2", "hf_runs/roberta-lora-agnews", "lm_eval/asdiv"], tmp_path / "t")
    rules = _rules_with_baseline(tmp_path, {"hf_runs": "dnabert2", "lm_eval": "Meta-Llama-3-8B-Instruct"})
    out = tmp_path / "out"
    assert run_all.main(["--config", rules, "--data", str(root), "--out", str(out), "--only", "scores_csv",
                         "--jobs", "1"]) == 0
    scores = pd.read_csv(out / "tables" / "scores.csv")
    by_exp = scores.groupby("run")["baseline_run"].first()
    assert by_exp["roberta-lora-agnews"] == "dnabert2"
    assert by_exp["Meta-Llama-3-8B-Instruct+epoch_5"] == "Meta-Llama-3-8B-Instruct"
    assert by_exp["Meta-Llama-3-8B-Instruct+epoch_20"] == "Meta-Llama-3-8B-Instruct"
    tuned = scores[(scores["run"] == "Meta-Llama-3-8B-Instruct+epoch_5") & scores["raw_diff"].notna()]
    base = scores[scores["run"] == "Meta-Llama-3-8B-Instruct"].set_index(["condition", "task"])["value"]
    assert len(tuned) > 0
    for row in tuned.itertuples():
        assert row.raw_diff == pytest.approx(row.value - base[row.condition, row.task])
    err = capsys.readouterr().err
    assert "without a baseline" not in err and "scored against their group's baseline" in err


@pytest.mark.parametrize("flags, baseline, message", [
    (["--baseline", "dnabert"], None, "--baseline: no run named 'dnabert' in the data; close matches: dnabert2"),
    ([], {"hf_runs": "dnabert"}, "experiments.baseline.hf_runs: no run named 'dnabert' in the data; "
                                 "close matches: dnabert2"),
    ([], {"lm_eval": "dnabert2"}, "experiments.baseline.lm_eval: run 'dnabert2' is in group 'hf_runs', not 'lm_eval'"),
    ([], "bert", "experiments.baseline: no run named 'bert' in the data; close matches: "),
])
def test_a_baseline_no_run_has_is_a_usage_error(tmp_path, capsys, flags, baseline, message):
    root = copy_real(["hf_runs/dnabert2", "hf_runs/roberta-lora-agnews", "lm_eval/asdiv"], tmp_path / "t")
    config = ["--config", _rules_with_baseline(tmp_path, baseline)] if baseline is not None else []
    out = tmp_path / "out"
    assert run_all.main([*config, *flags, "--data", str(root), "--out", str(out), "--jobs", "1", "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (out / "tables").exists()  # stopped before any output was drawn


def test_the_shipped_sweep_baseline_is_not_required_of_other_trees(tmp_path, capsys):
    root = copy_real(["hf_runs/dnabert2"], tmp_path / "t")
    assert run("--data", root, "--out", tmp_path / "out", "--only", "scores_csv") == 0
    assert "1 without a baseline (name one with --baseline RUN or experiments.baseline)" in capsys.readouterr().err


def test_a_task_only_the_baseline_has_leaves_the_checkpoint_figure_drawable(tmp_path):
    """dnabert2 alone reports matthews_correlation: with dnabert2 as the baseline that task has no
    run to compare, and the checkpoint figure draws the other tasks instead of failing."""
    root = copy_real(SUBSET[:3], tmp_path / "t")
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--baseline", "dnabert2", "--only", "checkpoints") == 0
    assert (out / "checkpoints" / "hf_runs_eval.png").read_bytes()[:8] == PNG  # the Trainer's evaluation set


def test_lm_eval_results_scored_against_a_baseline_give_no_empty_checkpoint_figure(tmp_path):
    """lm-eval results are all at step 0: with a baseline named for them, the checkpoint figure would be
    a page of empty panels and is not drawn; the Trainer group's is."""
    root = copy_real(["hf_runs/dnabert2", "hf_runs/roberta-lora-agnews", "lm_eval/asdiv"], tmp_path / "t")
    rules = _rules_with_baseline(tmp_path, {"hf_runs": "dnabert2", "lm_eval": "Meta-Llama-3-8B-Instruct"})
    out = tmp_path / "out"
    assert run_all.main(["--config", rules, "--data", str(root), "--out", str(out), "--only", "checkpoints",
                         "--jobs", "1", "-q"]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["hf_runs_eval.png", "hf_runs_train.png"]


def test_the_real_trainer_and_lm_eval_runs_give_few_figures_each_comparing_something(tmp_path):
    """The issue's tree (8 Trainer runs, 8 lm-eval result sets): at most 60 figures (222 before), every
    one comparing two runs or two metrics, a run in one colour everywhere, the stderr drawn."""
    import json
    from plots.registry import discover
    root = copy_real(["hf_runs", "lm_eval"], tmp_path / "t")
    out = tmp_path / "out"
    built_in = sorted(n for n, spec in discover().items() if spec.module.startswith("plots."))  # not other tests'
    assert run("--data", root, "--out", out, "--only", *built_in) == 0
    figures = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert 4 <= len(figures) <= 60, figures
    assert not [f for f in figures if f.startswith(("last_value/", "run_checkpoints/"))]
    entries = json.loads((out / ".cache" / "manifest.json").read_text())["outputs"]
    for rel in figures:
        e = entries[rel]
        assert len(e["runs"]) >= 2 or len(e["metrics"]) >= 2, (rel, e["runs"], e["metrics"])
    summary = (out / "summary.md").read_text()
    assert "No findings yet" not in summary and "the best run per metric" in summary
    tex = (out / "tables" / "raw_metrics.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and "hendrycksTest" not in tex
