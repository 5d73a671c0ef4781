"""Every number a Trainer run writes (issue 21, item 1 and 6): every row of trainer_state.json
(training loss, grad_norm, learning rate, TRL's rewards/logps/logits), `*_results.json` of any
prefix, every TensorBoard scalar, each record saying what data it was computed on (condition:
train, eval, eval_<set>, test); checked against an independent reading of real files."""
import json
import math

import pytest

from readers_helpers import copy_real, real
from utils.config import ConditionInfo
from utils.inference import data_conditions, direction, infer_task, with_inferred
from utils.loading import load
from utils.readers import is_bookkeeping, split_of
from utils.readers.hf_trainer import metric_records, read_hf_trainer

KEY = ["experiment", "condition", "task", "step", "metric", "statistic"]


def _expected_trainer(state: dict) -> dict[tuple[str, int, str], float]:
    """(condition, step, metric) -> value of every number of a log_history, read with json alone."""
    out = {}
    for entry in state["log_history"]:
        for key, value in entry.items():
            if key in ("step", "epoch", "num_tokens") or "runtime" in key or "per_second" in key or "flos" in key:
                continue
            cond, name = ("eval", key[5:]) if key.startswith("eval_") else ("train", key)
            out[(cond, entry["step"], name)] = value
    return out


@pytest.mark.parametrize("rel", ["trl_runs/safety-dpo/trainer_state.json",
                                 "trl_runs/grpo-verified-reasoner/checkpoint-1134/trainer_state.json",
                                 "hf_runs/dnabert2/trainer_state.json",
                                 "hf_runs/whisper-small-hi/trainer_state.json"])
def test_every_row_of_a_trainer_state(config, rel):
    path = real(rel)
    want = _expected_trainer(json.loads(path.read_text()))
    recs = read_hf_trainer(path, path.parents[2], config)
    got = {(r.condition, r.step, r.metric if r.statistic == "value" else f"{r.metric}_{r.statistic}"): r.value
           for r in recs}
    assert len(recs) == len(got) == len(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k


def test_dpo_rows_have_their_conditions_and_directions(config):
    path = real("trl_runs/safety-dpo/trainer_state.json")
    recs = {(r.condition, r.step, r.metric): r.value for r in read_hf_trainer(path, path.parents[1], config)}
    assert recs[("train", 10, "rewards/margins")] == pytest.approx(26.73345184326172)
    assert recs[("train", 1, "grad_norm")] == pytest.approx(1628.362060546875)
    assert recs[("train", 30, "train_loss")] == pytest.approx(0.07195354054873829)
    assert direction("rewards/margins") == "accuracy" and direction("rewards/accuracies") == "accuracy"
    assert direction("rewards/rejected") == "error"
    for diagnostic in ("grad_norm", "learning_rate", "logps/chosen", "logits/rejected", "lr/pg0", "kl"):
        assert direction(diagnostic) is None, diagnostic


def test_diagnostics_are_listed_not_scored(config):
    import pandas as pd
    frame = pd.DataFrame({"experiment": ["r"] * 2, "condition": ["train"] * 2, "task": ["grad_norm"] * 2,
                          "step": [1, 2], "metric": ["grad_norm"] * 2, "statistic": ["value"] * 2,
                          "value": [1.0, 2.0], "source": ["r/trainer_state.json"] * 2})
    found = infer_task("grad_norm", frame, config)
    assert found.info is None and "diagnostic" in found.why
    assert "grad_norm" not in with_inferred(config, frame, say=False).tasks


@pytest.mark.parametrize("name, condition", [
    ("val_loss", ("eval", "loss")), ("val/loss", ("eval", "loss")), ("train/box_loss", ("train", "box_loss")),
    ("metrics/mAP50(B)", ("eval", "mAP50(B)")), ("test_acc1", ("test", "acc1")), ("loss", ("train", "loss")),
    ("validation_accuracy", ("eval", "accuracy")), ("loss_val", ("eval", "loss")), ("lr-Adam", ("train", "lr-Adam")),
])
def test_split_markers(name, condition):
    assert split_of(name, "train") == condition


@pytest.mark.parametrize("name, bookkeeping", [
    ("epoch", True), ("train_runtime", True), ("eval_samples_per_second", True), ("total_flos", True),
    ("time_this_iter_s", True), ("_timestamp", True), ("data_time", True), ("train_loss_epoch", False),
    ("train_loss_step", False), ("loss", False), ("grad_norm", False), ("rewards/margins", False),
])
def test_bookkeeping(name, bookkeeping):
    assert is_bookkeeping(name) == bookkeeping


def test_named_evaluation_sets_and_the_test_set(config):
    metrics = {"eval_loss": 0.5, "eval_squad_v2_loss": 0.7, "eval_squad_v2_f1": 80.0, "eval_squad_v2_runtime": 3.0,
               "eval_runtime": 2.0, "test_loss": 0.6, "predict_accuracy": 0.9, "loss": 0.4, "epoch": 1.0}
    recs = {(r.condition, r.metric): r.value for r in metric_records(metrics, "run", "eval", 10, config)}
    assert recs == {("eval", "loss"): 0.5, ("eval_squad_v2", "loss"): 0.7, ("eval_squad_v2", "f1"): 80.0,
                    ("test", "loss"): 0.6, ("test", "accuracy"): 0.9, ("train", "loss"): 0.4}


def test_results_files_of_any_prefix(tmp_path, config):
    root = copy_real(["hf_runs/bart-large-cnn-samsum"], tmp_path / "t")
    run = root / "hf_runs/bart-large-cnn-samsum"
    result = load(root, config)
    frame = result.frame
    assert not frame.duplicated(KEY).any()
    test = json.loads((run / "test_results.json").read_text())
    want = {k[5:]: v for k, v in test.items() if not any(b in k for b in ("mem_", "runtime", "samples"))}
    got = frame[frame["condition"] == "test"].set_index("metric")["value"].to_dict()
    assert got == pytest.approx(want)
    assert set(frame.loc[frame["condition"] == "test", "step"]) == {json.loads(
        (run / "trainer_state.json").read_text())["global_step"]}  # the run's final value, not step 0
    assert {"hf_runs/bart-large-cnn-samsum/test_results.json", "hf_runs/bart-large-cnn-samsum/all_results.json"} & set(
        frame["source"])


def test_flat_dict_named_evaluation_results_outside_the_sweep_layout(tmp_path, config):
    path = tmp_path / "dpo-run" / "evaluation_results.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"eval_loss": 0.25, "eval_rewards/accuracies": 0.875, "epoch": 1.0}))
    result = load(tmp_path, config)
    assert not result.problems
    got = result.frame.set_index(["condition", "metric"])["value"].to_dict()
    assert got == {("eval", "loss"): 0.25, ("eval", "rewards/accuracies"): 0.875}


TB_FINANCE = "tensorboard_runs/finance-llm/runs/Sep04_00-37-02_82e4ef84eb61/events.out.tfevents.1725410994.82e4ef84eb61.1712.0"


def test_every_tensorboard_scalar(tmp_path, config):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from utils.readers.tensorboard import read_tensorboard
    path = real(TB_FINANCE)
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    want = {}
    for tag in acc.Tags()["scalars"]:
        name = tag.split("/", 1)[1]
        if is_bookkeeping(name):
            continue
        for event in acc.Scalars(tag):
            want[("train", event.step, name)] = event.value
    recs = read_tensorboard(path, path.parents[3], config)
    got = {(r.condition, r.step, r.metric): r.value for r in recs}
    assert len(recs) == len(want) == 31 and got == pytest.approx(want)
    assert {r.experiment for r in recs} == {"finance-llm"}


def test_trainer_state_and_event_file_of_one_run_are_one_record_each(tmp_path, config):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    root = copy_real(["tensorboard_runs"], tmp_path / "t")
    frame = load(root, config).frame
    assert not frame.duplicated(KEY).any()
    finance = frame[frame["experiment"] == "finance-llm"]
    loss = finance[(finance["metric"] == "loss") & (finance["condition"] == "train")]
    assert len(loss) == 10 and not loss["source"].str.contains("tfevents").any()  # the JSON copy is kept
    # three trainings into one output dir: the one the checkpoint belongs to merges with it, the other
    # (different numbers at the same steps) is a run of its own
    assert set(frame["experiment"]) == {"finance-llm", "sft-macbook", "sft-macbook/Feb27_22-46-48_MacBook-Air.local"}


def test_lfs_pointer_event_file_is_named(tmp_path, config):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    pointer = real("hf_runs/spam-detection-lfs/checkpoint-500/trainer_state.json").read_bytes()
    path = tmp_path / "run" / "runs" / "x" / "events.out.tfevents.1.host"
    path.parent.mkdir(parents=True)
    path.write_bytes(pointer)
    result = load(tmp_path, config)
    [problem] = result.problems
    assert "Git LFS pointer" in str(problem) and "events.out.tfevents.1.host" in str(problem)


def test_data_sets_become_conditions_the_figures_know(config):
    conds = data_conditions(config, ["eval", "train", "eval_squad", "test"])
    assert [c.name for c in conds][:4] == ["eval", "eval_squad", "test", "train"]
    assert conds[0].role == "in_distribution" and isinstance(conds[0], ConditionInfo)
    kept = data_conditions(config, ["standard", "atlantis", "train"])
    assert [c.name for c in kept] == ["standard", "atlantis", "train"]  # the sweep's own first
    assert math.isfinite(len(kept))
