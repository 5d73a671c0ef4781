"""Each format end to end: a small sweep written the way the tool writes it, the rules.yaml
`readers:` entry from docs/formats.md, run_all renders the comparison and heatmap figures."""
import json
import logging

import pytest
import yaml

import run_all
from analysis.scores import build_scores
from utils.config import load_config
from utils.loading import load

PNG = b"\x89PNG\r\n\x1a\n"
EXPERIMENTS = {"base": (), "base_ft1-1": ("a",), "base_ft1-2": ("b",)}
# (experiment, condition, task slot) -> value; task slot a is an error, b an accuracy
VALUES = {
    ("base", "standard", "a"): 3.0, ("base", "atlantis", "a"): 60.0,
    ("base", "standard", "b"): 0.80, ("base", "atlantis", "b"): 0.30,
    ("base_ft1-1", "standard", "a"): 1.5, ("base_ft1-1", "atlantis", "a"): 20.0,
    ("base_ft1-1", "standard", "b"): 0.78, ("base_ft1-1", "atlantis", "b"): 0.32,
    ("base_ft1-2", "standard", "a"): 2.8, ("base_ft1-2", "atlantis", "a"): "N/A",
    ("base_ft1-2", "standard", "b"): 0.90, ("base_ft1-2", "atlantis", "b"): 0.60,
}
TASKS = {"a": "distance", "b": "compass"}
# lm_eval's slots are both accuracies ("acc,none"): slot a gets accuracies too
LM_VALUES = {**VALUES, ("base", "standard", "a"): 0.45, ("base", "atlantis", "a"): 0.30,
             ("base_ft1-1", "standard", "a"): 0.60, ("base_ft1-1", "atlantis", "a"): 0.41,
             ("base_ft1-2", "standard", "a"): 0.44}
LM_TASKS = {"a": "arc_easy", "b": "hellaswag"}


def _hf(root):
    for exp in EXPERIMENTS:
        history = [{"epoch": 1.0, "grad_norm": 2.0, "learning_rate": 4e-05, "loss": 1.9, "step": 1000}]
        for cond in ("standard", "atlantis"):
            entry = {f"eval_{cond}_{TASKS[s]}_metric_mean": VALUES[exp, cond, s] for s in TASKS}
            entry = {k: (float("nan") if v == "N/A" else v) for k, v in entry.items()}
            history.append({"epoch": 1.0, **entry, f"eval_{cond}_loss": 1.2, f"eval_{cond}_runtime": 3.1,
                            "step": 1000})
        state = {"epoch": 1.0, "global_step": 1000, "log_history": history, "max_steps": 1000}
        (root / exp).mkdir(parents=True)
        (root / exp / "trainer_state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return [{"reader": "hf_trainer", "glob": "*/trainer_state.json"}], TASKS, "{task}_metric", "mean", VALUES


def _lm_eval(root):
    for exp in EXPERIMENTS:
        results = {}
        for cond, prefix in (("standard", ""), ("atlantis", "atlantis_")):
            for s, task in LM_TASKS.items():
                results[prefix + task] = {"alias": prefix + task, "acc,none": LM_VALUES[exp, cond, s],
                                          "acc_stderr,none": "N/A"}
        model = f"/runs/{exp}/checkpoint-1000"
        data = {"results": results, "versions": {t: 1.0 for t in results},
                "config": {"model": "hf", "model_args": f"pretrained={model},dtype=bfloat16"},
                "model_name": model, "model_name_sanitized": model.replace("/", "__")}
        folder = root / model.replace("/", "__")
        folder.mkdir(parents=True)
        (folder / "results_2024-06-10T12-00-00.000000.json").write_text(json.dumps(data, indent=2))
    return [{"reader": "lm_eval", "glob": "*/results_*.json"}], LM_TASKS, "{task}_acc", "value", LM_VALUES


def _tables(root):
    lines = ["experiment,condition,distance,compass"]
    for exp in EXPERIMENTS:
        for cond in ("standard", "atlantis"):
            lines.append(f"{exp},{cond},{VALUES[exp, cond, 'a']},{VALUES[exp, cond, 'b']}")
    (root / "paper").mkdir(parents=True)
    (root / "paper" / "raw_metrics.csv").write_text("\n".join(lines) + "\n")
    return [{"reader": "tables", "glob": "**/*.csv"}], TASKS, "{task}_metric", "mean", VALUES


def _jsonl(root):
    root.mkdir(parents=True)
    with open(root / "evals.jsonl", "w") as fh:
        for (exp, cond, s), v in VALUES.items():
            fh.write(json.dumps({"experiment": exp, "condition": cond, "task": TASKS[s], "step": 1000,
                                 "value": v}) + "\n")
    return [{"reader": "jsonl", "glob": "*.jsonl"}], TASKS, "{task}_metric", "mean", VALUES


def _rules(tmp_path, readers, tasks, metric, statistic):
    kinds = {"distance": "error", "compass": "accuracy", "arc_easy": "accuracy", "hellaswag": "accuracy"}
    raw = {
        "readers": readers,
        "conditions": {"standard": {"prefix": "", "label": "Standard", "role": "in_distribution"},
                       "atlantis": {"prefix": "atlantis_", "label": "Atlantis (OOD)",
                                    "role": "out_of_distribution"}},
        "metric": metric, "statistic": statistic,
        "tasks": {t: {"kind": kinds[t], "label": t.replace("_", " ").title(),
                      "unit": "error" if kinds[t] == "error" else "accuracy"} for t in tasks.values()},
        "experiments": {"baseline": "base", "groups": {"ft1": "Single-task fine-tuning"}},
        "training": {"ft1": {1: [tasks["a"]], 2: [tasks["b"]]}},
        "plots": {"dpi": 50},
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize("write", [_hf, _lm_eval, _tables, _jsonl], ids=["hf_trainer", "lm_eval", "tables", "jsonl"])
def test_format_end_to_end(tmp_path, write, caplog):
    tree, out = tmp_path / "tree", tmp_path / "out"
    readers, tasks, metric, statistic, values = write(tree)
    rules = _rules(tmp_path, readers, tasks, metric, statistic)
    with caplog.at_level(logging.WARNING):
        code = run_all.main(["--data", str(tree), "--out", str(out), "--config", str(rules),
                             "--only", "comparison", "heatmap", "--jobs", "1", "-q"])
    assert code == 0
    assert not [r for r in caplog.records if "unreadable" in r.getMessage()]
    for name in ("comparison/ft1_standard.png", "comparison/ft1_atlantis.png", "heatmap/ft1.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG and len(data) > 1000

    # the numbers the figures were drawn from are the ones written, N/A as NaN
    config = load_config(rules)
    scores = build_scores(load(tree, config).frame, config).set_index(["experiment", "condition", "task"])
    assert len(scores) == 3 * 2 * 2 and not scores["missing"].any()
    for (exp, cond, slot), v in values.items():
        got = scores.loc[(exp, cond, tasks[slot]), "value"]
        assert (got != got) if v == "N/A" else got == pytest.approx(v)
    assert scores.loc[("base_ft1-1", "standard", tasks["a"]), "baseline"] == values["base", "standard", "a"]


def _timed_log(folder, timed):
    """A JSON Lines training log; each line with its epoch `timestamp` when `timed`."""
    folder.mkdir(parents=True)
    (folder / "log.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1 / s, "val_acc": s / 10, **(
        {"timestamp": 1_714_000_000 + s} if timed else {})}) + "\n" for s in (1, 2, 3)))


def test_metrics_csv_has_a_wall_time_column_only_when_a_file_gives_one(tmp_path):
    """Zero-config: logs without a time give the old columns; a timed log added, a rebuild (its blocks
    cached) gives the column, empty on the untimed run's rows; files.csv is as before."""
    tree, out = tmp_path / "tree", tmp_path / "out"
    _timed_log(tree / "plain", timed=False)

    def metrics():
        assert run_all.main(["--data", str(tree), "--out", str(out), "--only", "metrics_csv", "files_csv",
                             "--jobs", "1", "-q"]) == 0
        assert (out / "tables" / "files.csv").read_text().startswith("path,reader,records,status,reason\n")
        return (out / "tables" / "metrics.csv").read_text().splitlines()

    lines = metrics()
    assert lines[0] == "experiment,condition,task,step,metric,statistic,value,source" and len(lines) == 7
    _timed_log(tree / "timed", timed=True)
    lines = metrics()
    assert lines[0] == "experiment,condition,task,step,metric,statistic,value,source,wall_time" and len(lines) == 13
    rows = [line.split(",") for line in lines[1:]]
    assert {r[-1] for r in rows if r[0] == "plain"} == {""}
    assert sorted(float(r[-1]) for r in rows if r[0] == "timed") == [1_714_000_001.0] * 2 + [1_714_000_002.0] * 2 + [
        1_714_000_003.0] * 2
