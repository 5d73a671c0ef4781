"""Hugging Face Trainer files: trainer_state.json log_history, all_results/eval_results.json steps,
experiment and condition naming, malformed files; and real Trainer runs as public projects committed
them (../shared/real_formats/tree/hf_runs) with the shipped rules (`config`): checkpoint copies
counted once, the final all_results.json filed at the step it repeats, memory and runtime keys not
metrics, Git LFS pointers named as such."""
import json
import math

import pytest

from readers_helpers import FIXTURES, copy_real, place, real, rules, value
from utils.errors import EvalFileError
from utils.loading import load
from utils.readers.hf_trainer import read_hf_trainer, results_step

KEY = ["experiment", "condition", "task", "step", "metric", "statistic"]

RUN = "hf_trainer/pt1_ft1-1"


def test_trainer_state_log_history(config):
    root = FIXTURES / "hf_trainer"
    recs = read_hf_trainer(root / "pt1_ft1-1" / "trainer_state.json", root, config)
    assert {r.experiment for r in recs} == {"pt1_ft1-1"}
    assert {r.step for r in recs} == {250, 500, 750, 1000}  # every row's "step", training rows too
    by_key = {(r.condition, r.task, r.step, r.metric, r.statistic): r.value for r in recs}
    assert by_key[("standard", "distance", 1000, "distance_metric", "mean")] == 3.5   # eval_standard_...
    assert by_key[("atlantis", "distance", 500, "distance_metric", "std")] == 20.0    # eval_atlantis_...
    assert math.isnan(by_key[("atlantis", "distance", 1000, "distance_metric", "std")])  # NaN literal
    assert math.isnan(by_key[("atlantis", "compass", 1000, "compass_metric", "mean")])
    assert by_key[("atlantis", "loss", 500, "loss", "value")] == 2.9011  # metric names the task
    # training rows: their own condition, so a training loss never looks like an evaluation loss
    assert by_key[("train", "loss", 250, "loss", "value")] == 2.4071
    assert by_key[("train", "grad_norm", 750, "grad_norm", "value")] == 2.5
    assert by_key[("train", "learning_rate", 1000, "learning_rate", "value")] == 3e-05
    assert by_key[("train", "train_loss", 1000, "train_loss", "value")] == 1.91  # the run's summary row
    names = {r.metric for r in recs}
    assert not names & {"runtime", "samples_per_second", "steps_per_second", "epoch", "total_flos", "train_runtime"}
    assert len(recs) == 2 * 2 * 4 + 4 * 3 + 1  # evaluations + 4 training rows x 3 numbers + train_loss


@pytest.mark.parametrize("name", ["eval_results.json", "all_results.json"])
def test_results_file_takes_the_step_of_the_sibling_state(config, name):
    root = FIXTURES / "hf_trainer"
    recs = read_hf_trainer(root / "pt1_ft1-1" / name, root, config)
    by_key = {(r.task, r.metric, r.statistic): r for r in recs}
    assert {r.step for r in recs} == {1000}          # trainer_state.json global_step
    evals = [r for r in recs if r.condition == "eval"]  # no prefix: the evaluation set
    by_key = {(r.task, r.metric, r.statistic): r for r in evals}
    assert by_key[("distance", "distance_metric", "mean")].value == 3.5
    assert by_key[("accuracy", "accuracy", "value")].value == 0.91  # eval_accuracy: task = metric name
    assert not any(r.metric.startswith(("samples", "total_flos")) for r in recs)
    assert len(evals) == 5  # distance mean+std, compass mean, accuracy, loss
    train = [(r.condition, r.metric, r.value) for r in recs if r.condition != "eval"]
    assert train == ([("train", "train_loss", 1.91)] if name == "all_results.json" else [])


@pytest.mark.parametrize("rel, step", [
    ("run/eval_results.json", -1),                       # no state, no checkpoint folder: NO_STEP
    ("run/checkpoint-750/eval_results.json", 750),       # the checkpoint folder's number
    ("run/checkpoint-750/sub/all_results.json", 750),
])
def test_results_step_without_a_sibling_state(tmp_path, config, rel, step):
    path = place(f"{RUN}/eval_results.json", tmp_path / rel)
    assert {r.step for r in read_hf_trainer(path, tmp_path, config)} == {step}


def test_unreadable_sibling_state_falls_back_to_the_checkpoint_folder(tmp_path, config):
    path = place(f"{RUN}/eval_results.json", tmp_path / "run" / "checkpoint-250" / "eval_results.json")
    (path.parent / "trainer_state.json").write_text('{"global_step": ')
    assert {r.step for r in read_hf_trainer(path, tmp_path, config)} == {250}


@pytest.mark.parametrize("mode, experiment", [(None, "sweep"), ("top", "sweep"), ("run", "pt1_ft1-2")])
def test_experiment_from_top_folder_or_run_folder(tmp_path, mode, experiment):
    rule = {"reader": "hf_trainer", "glob": "**/trainer_state.json"}
    cfg = rules(tmp_path, readers=[dict(rule, experiment=mode) if mode else rule])
    root = tmp_path / "data"
    place(f"{RUN}/checkpoint-1000/trainer_state.json",
          root / "sweep" / "pt1_ft1-2" / "checkpoint-1000" / "trainer_state.json")
    result = load(root, cfg)
    assert not result.problems and set(result.frame["experiment"]) == {experiment}


def test_file_in_the_data_root_belongs_to_the_root_folder(tmp_path, config):
    root = tmp_path / "pt1_ft1-3"
    path = place(f"{RUN}/eval_results.json", root / "eval_results.json")
    assert {r.experiment for r in read_hf_trainer(path, root, config)} == {"pt1_ft1-3"}


@pytest.mark.parametrize("folder", ["atlantis", "atlantis_eval"])
def test_condition_from_a_folder(tmp_path, config, folder):
    path = place(f"{RUN}/eval_results.json", tmp_path / "pt1" / folder / "eval_results.json")
    assert {r.condition for r in read_hf_trainer(path, tmp_path, config)} == {"atlantis"}


def test_config_prefix_in_the_key(tmp_path, config):
    path = tmp_path / "pt1" / "eval_results.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"eval_atlantis_angle_metric_mean": 30.0, "eval_angle_metric_mean": "N/A",
                                "eval_angle_metric_median": None, "eval_note": "diverged",
                                "eval_flag": True, "epoch": 1.0}, indent=4))
    recs = {(r.condition, r.statistic): r.value for r in read_hf_trainer(path, tmp_path, config)}
    assert recs[("atlantis", "mean")] == 30.0
    assert math.isnan(recs[("eval", "mean")]) and math.isnan(recs[("eval", "median")])
    assert len(recs) == 3  # the string and the boolean are not metrics


def test_state_without_evaluations_yet_gives_its_training_rows(tmp_path, config):
    state = json.loads((FIXTURES / RUN / "trainer_state.json").read_text())
    state["log_history"] = [e for e in state["log_history"] if not any(k.startswith("eval_") for k in e)]
    path = tmp_path / "run" / "checkpoint-250" / "trainer_state.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True))
    recs = read_hf_trainer(path, tmp_path, config)
    assert {r.condition for r in recs} == {"train"} and len(recs) == 13
    state["log_history"] = []
    path.write_text(json.dumps(state))
    assert read_hf_trainer(path, tmp_path, config) == []  # nothing logged yet: the loader says "read but empty"


@pytest.mark.parametrize("name, content, reason", [
    ("trainer_state.json", '{"log_history": [{"eval_loss": 1.0', "not valid JSON"),
    ("trainer_state.json", '{"global_step": 10}', "no 'log_history' list"),
    ("trainer_state.json", '{"log_history": [3]}', "log_history[0]: expected an object"),
    ("trainer_state.json", '{"log_history": [{"loss": 1, "step": 5}, {"eval_loss": 1.0, "epoch": 1}]}',
     "log_history[1]: entry without a whole-number 'step'"),
    ("all_results.json", "[1, 2]", "expected an object of metrics"),
])
def test_malformed_file_is_one_problem_and_the_rest_loads(tmp_path, config, name, content, reason):
    cfg = rules(tmp_path, readers=[{"reader": "hf_trainer", "glob": "*/*.json"}])
    root = tmp_path / "data"
    good = place(f"{RUN}/eval_results.json", root / "pt1" / "eval_results.json")
    bad = root / "pt1_ft1-1" / name
    bad.parent.mkdir()
    bad.write_text(content)
    result = load(root, cfg)
    assert len(result.problems) == 1
    message = str(result.problems[0])
    assert message.startswith(f"{bad}: ") and reason in message
    assert set(result.frame["source"]) == {good.relative_to(root).as_posix()}
    assert value(result.frame, task="distance", statistic="mean") == 3.5


def test_reader_error_is_an_eval_file_error(tmp_path, config):
    path = tmp_path / "pt1" / "trainer_state.json"
    path.parent.mkdir()
    path.write_text("[]")
    with pytest.raises(EvalFileError, match="trainer_state.json: no 'log_history'"):
        read_hf_trainer(path, tmp_path, config)


def test_checkpoint_copies_are_counted_once(tmp_path, config):
    root = copy_real(["hf_runs/roberta-lora-agnews"], tmp_path / "t")
    frame = load(root, config).frame
    assert not frame.duplicated(KEY).any()
    assert set(frame["experiment"]) == {"roberta-lora-agnews"}  # the parent of checkpoint-N/
    # every logged evaluation of the longest copy, once: checkpoint-2400 holds the whole history
    state = json.loads((root / "hf_runs/roberta-lora-agnews/checkpoint-2400/trainer_state.json").read_text())
    logged = {(e["step"], "eval" if k.startswith("eval_") else "train", k.removeprefix("eval_"))
              for e in state["log_history"] for k in e if k not in ("step", "epoch") and "runtime" not in k
              and "per_second" not in k and "flos" not in k}
    assert set(zip(frame["step"], frame["condition"], frame["metric"])) == logged
    # the merged copies come from the newest checkpoint, which holds every step
    assert set(frame["source"]) == {"hf_runs/roberta-lora-agnews/checkpoint-2400/trainer_state.json"}


def test_all_results_of_a_run_that_reloaded_its_best_checkpoint(tmp_path, config):
    root = copy_real(["hf_runs/whisper-small-hi"], tmp_path / "t")
    run = root / "hf_runs/whisper-small-hi"
    state = json.loads((run / "trainer_state.json").read_text())
    final = json.loads((run / "all_results.json").read_text())
    assert state["best_model_checkpoint"].endswith("checkpoint-4000") and state["global_step"] == 5000
    assert results_step(run / "all_results.json", root, final) == (4000, set(), 5000)
    frame = load(root, config).frame
    assert not frame.duplicated(KEY).any()
    at = frame.set_index(["metric", "step"])["value"]
    assert at[("wer", 4000)] == final["eval_wer"] and at[("wer", 5000)] != final["eval_wer"]
    assert len(frame[frame["metric"] == "wer"]) == 5  # one per logged evaluation, none added


def _trainer_run(root, final, best=None):
    """A run folder as the Trainer writes it: trainer_state.json (evaluations at 100 and 200) and
    the all_results.json of save_metrics after training."""
    root.mkdir(parents=True)
    history = [{"epoch": 1.0, "eval_loss": 0.5, "eval_accuracy": 0.8, "eval_runtime": 3.2, "step": 100},
               {"epoch": 2.0, "eval_loss": 0.6, "eval_accuracy": 0.7, "eval_runtime": 3.1, "step": 200},
               {"epoch": 2.0, "step": 200, "train_loss": 0.4, "train_runtime": 50.0}]
    (root / "trainer_state.json").write_text(json.dumps(
        {"best_model_checkpoint": best, "global_step": 200, "log_history": history}))
    (root / "all_results.json").write_text(json.dumps({"epoch": 2.0, "train_loss": 0.4, **final}))
    return root / "all_results.json"


@pytest.mark.parametrize("best, final, step, kept", [
    ("out/checkpoint-100", {"eval_loss": 0.5, "eval_accuracy": 0.8}, 100, {"loss", "accuracy"}),  # reloaded best
    ("out/checkpoint-100", {"eval_loss": 0.6, "eval_accuracy": 0.7}, 200, {"loss", "accuracy"}),  # kept the last
    (None, {"eval_loss": 0.6, "eval_accuracy": 0.7}, 200, {"loss", "accuracy"}),
    # a final evaluation unlike any logged one: only its keys not logged at the last step
    (None, {"eval_loss": 0.9, "eval_accuracy": 0.1, "eval_f1": 0.3}, 200, {"f1"}),
])
def test_final_results_never_give_a_second_value(tmp_path, config, best, final, step, kept):
    path = _trainer_run(tmp_path / "run", final, best)
    recs = read_hf_trainer(path, tmp_path, config)
    evals = [r for r in recs if r.condition == "eval"]
    assert {r.step for r in evals} == {step} and {r.metric for r in evals} == kept
    # the run's training summary belongs to the last step, whichever evaluation was kept
    assert [(r.condition, r.step, r.metric) for r in recs if r.condition != "eval"] == [("train", 200, "train_loss")]
    frame = load(tmp_path, config).frame
    assert not frame.duplicated(KEY).any()
    assert frame.groupby(["metric", "step"]).size().max() == 1


@pytest.mark.parametrize("run", ["bart-large-cnn-samsum", "whisper-small-hi", "t5-cnn-summarization"])
def test_bookkeeping_keys_are_not_metrics(config, run):
    path = real(f"hf_runs/{run}/all_results.json")
    metrics = {r.metric for r in read_hf_trainer(path, path.parents[2], config)}
    assert metrics and not any(m.startswith("mem_") or m in ("runtime", "samples_per_second", "samples",
                                                              "steps_per_second", "epoch") for m in metrics)
    assert not any(m.startswith(("eval_", "test_")) for m in metrics)


def test_lfs_pointer_has_its_own_message(tmp_path, config):
    root = copy_real(["hf_runs/spam-detection-lfs"], tmp_path / "t")
    result = load(root, config)
    [problem] = result.problems
    assert "Git LFS pointer" in str(problem) and "git lfs pull" in str(problem)
    assert "half-written" not in str(problem) and "spam-detection-lfs" in str(problem)
