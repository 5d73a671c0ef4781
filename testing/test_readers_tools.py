"""The readers of what researchers' tools write (issue 21, item 2), each on the real files that tool
wrote (../shared/real_formats/tree/<tool>/), against an independent reading of the file with the csv
or json module: every number once, at its step, under the run and condition the format says."""
import csv
import json
import math
from collections import Counter
from datetime import datetime, timezone

import pytest

from readers_helpers import REAL, copy_real, real
from utils.loading import discover, load
from utils.readers import NO_STEP, all_readers, is_bookkeeping

KEY = ["experiment", "condition", "task", "step", "metric", "statistic"]
STEPS = ("step", "global_step", "iter", "iteration", "current_steps", "_step", "training_iteration", "epoch")


def _num(raw):
    if raw is None or isinstance(raw, (bool, dict, list)):
        return None
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    return v


def _log_rows(rows, step_key):
    """{(column, step): value} of log rows read independently: the later value of a repeated step."""
    out = {}
    for row in rows:
        step = _num(row.get(step_key))
        if step is None:
            continue
        for col, raw in row.items():
            col = col.strip()
            v = _num(raw.strip() if isinstance(raw, str) else raw)
            if col in STEPS or col.startswith("config/") or v is None or is_bookkeeping(col):
                continue
            out[(col, int(step))] = v
    return out


def _csv(path, step_key):
    with open(path, newline="") as fh:
        rows = [{k.strip(): v for k, v in r.items()} for r in csv.DictReader(fh, skipinitialspace=True)]
    return _log_rows(rows, step_key)


def _jsonl(path, step_key):
    return _log_rows([json.loads(line) for line in open(path) if line.strip()], step_key)


def _same_numbers(recs, want):
    """Every number once: the records' (step, value) pairs are the file's, as a multiset."""
    got = Counter((r.step, round(r.value, 12)) for r in recs if not math.isnan(r.value))
    exp = Counter((s, round(v, 12)) for (_, s), v in want.items() if not math.isnan(v))
    assert got == exp
    assert len(recs) == len(want)


CASES = [
    ("lightning", "lightning/christianjzb-diffusion/lightning_logs/version_1/metrics.csv", "step", _csv,
     "christianjzb-diffusion/version_1", {("test", "log_prob"), ("train", "loss"), ("eval", "loss")}),
    ("lightning", "lightning/cs6994-transformer/lightning_logs/version_2/metrics.csv", "step", _csv,
     "cs6994-transformer/version_2", {("train", "loss"), ("eval", "loss")}),
    ("lightning", "lightning/tft-demand-forecast/lightning_logs/version_1/metrics.csv", "step", _csv,
     "tft-demand-forecast/version_1", {("train", "loss_epoch")}),
    ("keras", "keras/mnist-cnn-lr/training_log.csv", "epoch", _csv, "mnist-cnn-lr",
     {("train", "accuracy"), ("train", "learning_rate"), ("train", "loss"), ("eval", "accuracy"), ("eval", "loss")}),
    ("keras", "keras/voice-identification/speaker250_training.log", "epoch", _csv,
     "voice-identification/speaker250_training", {("train", "acc"), ("train", "loss"), ("eval", "acc"), ("eval", "loss")}),
    ("keras", "keras/digit-cnn/training_log.csv", "epoch", _csv, "digit-cnn",
     {("train", "accuracy"), ("train", "loss"), ("eval", "accuracy"), ("eval", "loss")}),
    ("ultralytics", "ultralytics/yolov8-seg/results.csv", "epoch", _csv, "yolov8-seg", None),
    ("ultralytics", "ultralytics/yolo11-cls-train3/results.csv", "epoch", _csv, "yolo11-cls-train3",
     {("train", "loss"), ("eval", "loss"), ("eval", "accuracy_top1"), ("eval", "accuracy_top5"), ("train", "lr/pg0"),
      ("train", "lr/pg1"), ("train", "lr/pg2")}),
    ("jsonl_log", "jsonl_logs/mae-finetune/log.txt", "epoch", _jsonl, "mae-finetune",
     {("train", "lr"), ("train", "loss"), ("test", "loss"), ("test", "acc1"), ("test", "acc5")}),
    ("jsonl_log", "jsonl_logs/detectron2-balloon/metrics.json", "iteration", _jsonl, "detectron2-balloon", None),
    ("jsonl_log", "jsonl_logs/spur-xmc/train_log.jsonl", "epoch", _jsonl, "spur-xmc", None),
    ("jsonl_log", "jsonl_logs/dreamer-fetch-reach/metrics.jsonl", "step", _jsonl, "dreamer-fetch-reach",
     {("train", "return"), ("train", "length"), ("train", "episodes")}),
]


@pytest.mark.parametrize("name, rel, step, independent, run, series", CASES,
                         ids=[c[1].split("/")[0] + ":" + c[1].rsplit("/", 1)[1] for c in CASES])
def test_log_readers_read_every_number(config, name, rel, step, independent, run, series):
    path = real(rel)
    [(found, chosen)] = [(p, r) for p, r in discover(path.parent, config) if p == path]
    assert chosen == name  # recognised by name and content
    recs = all_readers()[name].read(path, REAL, config)
    _same_numbers(recs, independent(path, step))
    assert {r.experiment for r in recs} == {run}
    if series is not None:
        assert {(r.condition, r.metric) for r in recs} == series


def test_a_restart_keeps_the_later_value(config):
    path = real("jsonl_logs/detectron2-balloon/metrics.json")
    lines = [json.loads(line) for line in open(path)]
    twice = [e for e in lines if e["iteration"] == 19]
    assert len(twice) == 2 and twice[0]["loss_cls"] != twice[1]["loss_cls"]
    recs = all_readers()["jsonl_log"].read(path, REAL, config)
    [loss] = [r for r in recs if r.metric == "loss_cls" and r.step == 19]
    assert loss.value == twice[1]["loss_cls"]


def test_ray_tune_progress_and_result_are_one_run(tmp_path, config):
    root = copy_real(["ray_tune"], tmp_path / "t")
    result = load(root, config)
    frame = result.frame
    assert not result.problems and not frame.duplicated(KEY).any()
    trial = next(root.rglob("tune_train_func_0b2cc_00000*"))
    with open(trial / "progress.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    mine = frame[frame["experiment"] == trial.name].set_index(["metric", "step"])["value"]
    for row in rows:
        for metric in ("loss", "r2", "mse", "rmse", "mae"):
            assert mine[(metric, int(row["training_iteration"]))] == pytest.approx(float(row[metric]))
    assert len(mine) == 5 * len(rows)  # progress.csv, result.json and the event file: each number once


def test_mlflow_store(tmp_path, config):
    root = copy_real(["mlflow"], tmp_path / "t")
    frame = load(root, config).frame
    store = root / "mlflow/yolov8-mlflow/runs/mlflow/596793538227028894"
    run = store / "3b1e8a01ecd5414194addb64dc7e701a"
    mine = frame[frame["experiment"] == "adamtest"]
    want = {}
    for metric in (run / "metrics").rglob("*"):
        if metric.is_file():
            for line in metric.read_text().splitlines():
                _, value, step = line.split()
                want[(metric.relative_to(run / "metrics").as_posix(), int(step))] = float(value)
    assert len(mine) == len(want) == 13 * 5
    got = Counter((s, v) for s, v in zip(mine["step"], mine["value"]))
    assert got == Counter((s, v) for (_, s), v in want.items())  # a step logged twice keeps the later line
    by = mine.set_index(["condition", "metric", "step"])["value"]
    assert by[("eval", "mAP50-95B", 4)] == want[("metrics/mAP50-95B", 4)]
    assert by[("eval", "box_loss", 2)] == want[("val/box_loss", 2)] and by[("train", "box_loss", 2)] == want[
        ("train/box_loss", 2)]
    assert {"Run_0", "sgdtest3", "adamtest"} <= set(frame["experiment"])  # run names from meta.yaml


def test_sacred_runs(tmp_path, config):
    root = copy_real(["sacred"], tmp_path / "t")
    result = load(root, config)
    frame = result.frame
    data = json.loads((root / "sacred/tgne/my_runs/8/metrics.json").read_text())
    mine = frame[frame["experiment"] == "my_runs/8"].set_index(["metric", "step"])["value"]
    assert len(mine) == sum(len(v["values"]) for v in data.values()) == 800
    for name, series in data.items():
        for step, value in zip(series["steps"], series["values"]):
            assert mine[(name, step)] == value
    run = json.loads((root / "sacred/nyc-demand/experiments/1/run.json").read_text())
    nyc = frame[frame["experiment"] == "experiments/1"].set_index("metric")["value"]
    assert nyc["mse/score"] == run["result"]["mse"]["score"] and len(nyc) == 3
    empty = {f.path for f in result.statuses if f.status == "read but empty"}
    assert "sacred/nyc-demand/experiments/1/metrics.json" in empty  # a pickled DataFrame is not a number


def test_wandb_summaries(tmp_path, config):
    root = copy_real(["wandb"], tmp_path / "t")
    result = load(root, config)
    frame = result.frame.set_index(["experiment", "condition", "metric"])
    assert frame.loc[("run-20240430_164045-19xavnde", "eval", "loss"), "step"] == 1000  # train/global_step
    assert frame.loc[("run-20240430_164045-19xavnde", "train", "train_loss"), "value"] == pytest.approx(0.8426206741333008)
    assert frame.loc[("run-20230516_044735-430qe3gk", "eval", "accuracy"), "value"] == 0.04575
    assert not any(is_bookkeeping(m) for m in result.frame["metric"])
    assert len(result.frame) == 3 + 4 + 2
    assert any(f.status == "read but empty" and f.path.endswith("4qd4nan3/files/wandb-summary.json")
               for f in result.statuses)


@pytest.mark.parametrize("rel, count, checks", [
    ("nested_json/har-ucf101/classification_report.json", 101 * 3 + 1 + 6,
     {("eval", "macro avg/f1-score", NO_STEP): None, ("eval", "accuracy", NO_STEP): None}),
    ("nested_json/har-ucf101/metrics.json", 40, {("train", "loss", 19): None}),
    ("jsonl_logs/spur-xmc/test_results_supervised.json", 19,
     {("test", "supervised/P@1", NO_STEP): 0.8353388220392653}),
    ("nested_json/unlearning-detection/significance.json", 56, {}),
])
def test_json_summaries(config, rel, count, checks):
    path = real(rel)
    recs = all_readers()["json_summary"].read(path, REAL, config)
    assert len(recs) == count
    got = {(r.condition, r.metric, r.step): r.value for r in recs}
    for key, value in checks.items():
        assert key in got and (value is None or got[key] == value)


def test_nested_steps_from_keys(tmp_path, config):
    path = tmp_path / "run" / "summary.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"checkpoint-500": {"accuracy": 0.5}, "step1000": {"accuracy": 0.7},
                                "epoch_3": {"val_loss": 0.2}, "bert": {"metrics": {"f1": 0.9}},
                                "notes": "fine", "flag": True, "support": 30}))
    recs = {(r.condition, r.metric, r.step): r.value for r in load(tmp_path, config).frame.itertuples(index=False)
            for r in [r]}
    assert recs == {("eval", "accuracy", 500): 0.5, ("eval", "accuracy", 1000): 0.7, ("eval", "loss", 3): 0.2,
                    ("eval", "bert/metrics/f1", 1000): 0.9}  # no step: the run's final value


def test_the_real_tree_reads_nearly_every_number(tmp_path, config):
    """Issue 21's yardstick: of the numbers in the tree's result files (configuration and bookkeeping
    aside), at least 90% are in metrics.csv, each once."""
    real("hf_runs")
    result = load(REAL, config)
    frame = result.frame
    assert not frame.duplicated(KEY).any()
    read = {f.path for f in result.statuses if f.status == "read"}
    for tool in ("lightning", "keras", "ultralytics", "jsonl_logs", "mlflow", "sacred", "wandb", "nested_json",
                 "trl_runs", "tensorboard_runs", "ray_tune"):
        assert any(p.startswith(tool + "/") for p in read), tool
    from benchmarks.share_read import shares
    got, total = shares(REAL)
    assert sum(got.values()) >= 0.9 * sum(total.values())
    assert all(got[tool] >= 0.75 * total[tool] for tool in total), {t: (got[t], total[t]) for t in total}


def test_a_final_summary_is_one_record_at_its_real_step(tmp_path, config):
    """all_results.json names no step: without trainer_state.json it is filed at the step of the
    event file's copy (merged into one record), never at step 0."""
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    root = copy_real(["hf_runs/t5-cnn-summarization"], tmp_path / "t")
    (root / "hf_runs/t5-cnn-summarization/trainer_state.json").unlink()
    frame = load(root, config).frame
    rouge = frame[(frame["metric"] == "rouge1") & (frame["condition"] == "eval")]
    assert list(rouge["step"]) == [215337] and rouge["value"].iloc[0] == 41.6324
    assert 0 not in set(frame["step"]) and -1 not in set(frame["step"])


def test_a_summary_beside_a_log_is_the_runs_final_value(tmp_path, config):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text("".join(json.dumps({"step": s, "val_loss": 1.0 / s}) + "\n" for s in (10, 20, 30)))
    (run / "final.json").write_text(json.dumps({"test_accuracy": 0.9, "val_loss": 1.0 / 30}))
    frame = load(tmp_path, config).frame
    got = {(c, m, s): v for c, m, s, v in zip(frame["condition"], frame["metric"], frame["step"], frame["value"])}
    assert got == {("eval", "loss", 10): 0.1, ("eval", "loss", 20): 0.05, ("eval", "loss", 30): 1.0 / 30,
                   ("test", "accuracy", 30): 0.9}


# --- wall times: each format's own field, read independently (issue 21, item 2) ------------------------

RAY_TRIAL = ("ray_tune/softmax-exp45/tune_train_func_2025-04-25_16-31-56/tune_train_func_0b2cc_00000_0_batch_size=16,"
             "beta1=0.9000,beta2=0.9990,dropout_prob=0.1000,lr=0.0010,weight_decay=0.0000_2025-04-25_16-31-58")
RAY_METRICS = ("loss", "r2", "mse", "rmse", "mae")


def _walls(pairs):
    """{(step, value): wall times} from (step, value, wall time) triples."""
    out = {}
    for step, value, when in pairs:
        out.setdefault((step, value), set()).add(when)
    return out


def _mlflow_walls(path):
    """`<timestamp ms> <value> <step>` lines: the time in seconds."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return _walls((int(step), float(value), int(ms) / 1000) for ms, value, step in lines)


def _ray_csv_walls(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return _walls((int(r["training_iteration"]), float(r[m]), float(r["timestamp"])) for r in rows for m in RAY_METRICS)


def _ray_json_walls(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    return _walls((r["training_iteration"], float(r[m]), float(r["timestamp"])) for r in rows for m in RAY_METRICS)


def _sacred_walls(path):
    """Sacred's timestamps are naive ISO strings in UTC (it stamps them with datetime.utcnow())."""
    data = json.loads(path.read_text())
    return _walls((step, value, datetime.fromisoformat(ts).replace(tzinfo=timezone.utc).timestamp())
                  for series in data.values()
                  for step, value, ts in zip(series["steps"], series["values"], series["timestamps"])
                  if isinstance(value, float))


def _wandb_walls(path):
    """The summary's `_timestamp`, at the step its numbers are filed at."""
    data = json.loads(path.read_text())
    step = data.get("train/global_step", data.get("_step"))
    return _walls((step, float(v), data["_timestamp"]) for v in data.values() if type(v) in (int, float))


WALL_CASES = [
    ("mlflow", "mlflow/gan-classical/mlruns/1/4b68d594b5934e5bafe524d0ecd6c978/metrics/Generator loss", _mlflow_walls),
    ("mlflow", "mlflow/yolov8-mlflow/runs/mlflow/596793538227028894/3b1e8a01ecd5414194addb64dc7e701a/metrics/metrics/"
               "mAP50B", _mlflow_walls),
    ("ray_tune", f"{RAY_TRIAL}/progress.csv", _ray_csv_walls),
    ("jsonl_log", f"{RAY_TRIAL}/result.json", _ray_json_walls),
    ("sacred", "sacred/tgne/my_runs/8/metrics.json", _sacred_walls),
    ("wandb", "wandb/mistral-viggo-finetune/wandb/run-20240430_164045-19xavnde/files/wandb-summary.json", _wandb_walls),
    ("wandb", "wandb/seq2seq-sweep/wandb/run-20230516_044735-430qe3gk/files/wandb-summary.json", _wandb_walls),
]


@pytest.mark.parametrize("name, rel, independent", WALL_CASES,
                         ids=[f"{c[0]}:{c[1].rsplit('/', 1)[1]}" for c in WALL_CASES])
def test_wall_times_are_the_files_own(config, name, rel, independent):
    path = real(rel)
    recs = all_readers()[name].read(path, REAL, config)
    want = independent(path)
    assert recs and all(r.wall_time in want[(r.step, r.value)] for r in recs)


NO_WALL_TIME = [
    ("jsonl_log", "jsonl_logs/detectron2-balloon/metrics.json"),  # `time`: an iteration's seconds, not a wall time
    ("jsonl_log", "jsonl_logs/mae-finetune/log.txt"),
    ("lightning", "lightning/christianjzb-diffusion/lightning_logs/version_1/metrics.csv"),
    ("keras", "keras/mnist-cnn-lr/training_log.csv"),
    ("ultralytics", "ultralytics/yolov8-seg/results.csv"),
    ("hf_trainer", "trl_runs/safety-dpo/trainer_state.json"),
    ("lm_eval", "lm_eval/out/results.json"),
]


@pytest.mark.parametrize("name, rel", NO_WALL_TIME, ids=[r.split("/")[1] for _, r in NO_WALL_TIME])
def test_formats_without_a_wall_time_give_none(config, name, rel):
    path = real(rel)
    recs = all_readers()[name].read(path, REAL, config)
    assert recs and all(r.wall_time is None for r in recs)
    if "detectron2" in rel:  # the field is there, and is not a time of day
        assert all(0 < json.loads(line)["time"] < 1e9 for line in open(path) if '"time"' in line)


T0 = 1_714_478_400.0  # 2024-04-30T12:00:00Z


@pytest.mark.parametrize("fields, wall", [
    (lambda s: {"timestamp": T0 + s}, lambda s: T0 + s),                        # Ray Tune's result.json
    (lambda s: {"_timestamp": T0 + s + 0.25, "_runtime": s}, lambda s: T0 + s + 0.25),  # W&B's history rows
    (lambda s: {"time": f"2024-04-30T12:00:0{s}+00:00"}, lambda s: T0 + s),     # ISO 8601 with its offset
    (lambda s: {"time": f"2024-04-30T14:00:0{s}+02:00"}, lambda s: T0 + s),
    (lambda s: {"time": 0.35 * s, "wall_time": T0 + s}, lambda s: T0 + s),     # the epoch field, not the duration
    (lambda s: {"time": f"2024-04-30T12:00:0{s}"}, None),                       # no offset: time zone unknown
    (lambda s: {"time": 0.35 * s}, None),                                       # detectron2: an iteration's seconds
    (lambda s: {"time": 3600.0 * s}, None),                                     # seconds since the start
    (lambda s: {"timestamp": (T0 + s) * 1000}, None),                           # milliseconds: not taken
], ids=["timestamp", "_timestamp", "iso utc", "iso +02:00", "wall_time beside time", "iso naive", "duration",
        "since start", "milliseconds"])
def test_json_lines_wall_times(tmp_path, config, fields, wall):
    path = tmp_path / "run" / "log.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps({"step": s, "loss": 1 / s, **fields(s)}) + "\n" for s in (1, 2, 3)))
    recs = all_readers()["jsonl_log"].read(path, tmp_path, config)
    assert [(r.metric, r.step) for r in recs] == [("loss", 1), ("loss", 2), ("loss", 3)]  # no time is a metric
    assert [r.wall_time for r in recs] == [wall(s) if wall else None for s in (1, 2, 3)]
