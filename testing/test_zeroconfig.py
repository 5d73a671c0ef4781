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


def test_the_log_names_each_inferred_task_with_its_direction(whole):
    _, _, scores, lines = whole
    said = {m.group(1): m.group(2) for line in lines
            if (m := re.match(r"inferred task (.+?): (higher|lower) is better", line))}
    assert set(scores["task"]) <= set(said)
    assert said["wer"] == "lower" and said["loss"] == "lower" and said["accuracy"] == "higher"
    assert said["rouge1"] == "higher" and said["nl2foam_perplexity_original"] == "lower"
    assert any(line.startswith("reader hf_trainer: ") for line in lines)
    assert any(line.startswith("reader lm_eval: ") for line in lines)
    assert any("left out of the figures" in line and "gen_len" in line for line in lines)  # listed, not guessed


def test_figures_without_a_baseline(tmp_path):
    root = copy_real(SUBSET, tmp_path / "t")
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--only", "last_value", "run_checkpoints", "normalized", "comparison",
               "scores_csv") == 0
    for rel in ["run_checkpoints/hf_runs_eval_wer.png", "run_checkpoints/hf_runs_eval_accuracy.png",
                "run_checkpoints/lm_eval_standard_piqa.png", "last_value/hf_runs_eval_rouge1.png",
                "last_value/lm_eval_standard_asdiv.png", "last_value/hf_runs_eval_loss.png"]:
        assert (out / rel).read_bytes()[:8] == PNG, rel
    assert not (out / "normalized").exists() and not (out / "comparison").exists()  # they need a baseline
    assert not (out / "run_checkpoints" / "hf_runs_eval_rouge1.png").exists()  # one step per run: no curve
    summary = (out / "tables" / "scores.csv").read_text()
    assert "4262" not in summary


def test_a_named_baseline_adds_the_normalized_figures(tmp_path):
    root = copy_real(SUBSET[:3], tmp_path / "t")
    out = tmp_path / "out"
    assert run("--data", root, "--out", out, "--baseline", "dnabert2", "--only", "normalized", "scores_csv") == 0
    assert (out / "normalized" / "hf_runs_eval.png").read_bytes()[:8] == PNG
    scores = pd.read_csv(out / "tables" / "scores.csv")
    row = scores[(scores["experiment"] == "roberta-lora-agnews") & (scores["task"] == "loss")].iloc[0]
    base = scores[(scores["experiment"] == "dnabert2") & (scores["task"] == "loss")].iloc[0]
    assert row["baseline_experiment"] == "dnabert2" and row["baseline"] == base["value"]
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
    assert run("--data", small_tree, "--out", out, "--only", "last_value", "run_checkpoints", "scores_csv") == 0
    assert not (out / "last_value").exists() and not (out / "run_checkpoints").exists()
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
    assert run("--data", root, "--out", out, "--only", "last_value", "run_checkpoints") == 0
    assert (out / "last_value" / "runs_eval_accuracy.png").read_bytes()[:8] == PNG
    assert (out / "run_checkpoints" / "runs_eval_loss.png").read_bytes()[:8] == PNG


def test_a_rerun_redraws_only_what_changed(tmp_path):
    root = tmp_path / "runs"
    write_trainer_run(root / "bert", [0.70, 0.80])
    write_trainer_run(root / "roberta", [0.60, 0.75])
    out = tmp_path / "out"
    only = ("--only", "last_value", "run_checkpoints")
    assert run("--data", root, "--out", out, *only) == 0
    drawn = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert len(drawn) == 4  # accuracy and loss, two figures each
    (root / "bert" / "trainer_state.json").unlink()
    write_trainer_run(root / "bert", [0.70, 0.80])  # rewritten, same numbers: nothing to redraw
    assert run("--data", root, "--out", out, *only) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == drawn
    write_trainer_run(root / "electra", [0.5, 0.9])  # a new run: every figure of both tasks changes
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
