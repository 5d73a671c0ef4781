"""The default layout: `<experiment>/evals/<[prefix]task>/eval_data/evaluation_results.json`."""
from __future__ import annotations

import re
from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import Record, read_json, reader, split_metric_key, to_value

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _sniff(path: Path) -> bool:
    """evaluation_results.json in the `<experiment>/evals/<task>/...` layout (the same name elsewhere,
    a flat metrics dict, goes to the other readers)."""
    return path.name == "evaluation_results.json" and "evals" in path.parts[:-2]


@reader("evaluation_results", "per-checkpoint JSON in the experiments/<exp>/evals/<task>/eval_data layout",
        sniff=_sniff, accepts=lambda name: name == "evaluation_results.json")
def read_evaluation_results(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one evaluation_results.json: {"checkpoint-<step>": {"eval_<metric>_<stat>": v}}."""
    rel = path.relative_to(root).parts
    try:
        evals = rel.index("evals")
        folder = rel[evals + 1]
        # `--data` at one experiment's folder: that folder is the experiment
        experiment = rel[evals - 1] if evals > 0 else root.resolve().name
    except (ValueError, IndexError):
        raise EvalFileError(f"{path}: not in the <experiment>/evals/<task>/... layout") from None
    cond_task = config.condition_for_folder(folder)
    if cond_task is None:
        raise EvalFileError(f"{path}: folder {folder!r} matches no condition prefix in rules.yaml")
    condition, task = cond_task
    data = read_json(path)
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object of checkpoints, got {type(data).__name__}")
    records: list[Record] = []
    for key, metrics in data.items():
        m = _CHECKPOINT.match(key)
        if not m:
            continue
        if not isinstance(metrics, dict):
            raise EvalFileError(f"{path}: {key}: expected an object of metrics")
        step = int(m.group(1))
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) and value is not None:
                continue  # strings such as timestamps or model names are not metrics
            metric, stat = split_metric_key(name)
            records.append(Record(experiment, condition, task, step, metric, stat, to_value(value)))
    if not records:
        raise EvalFileError(f"{path}: no 'checkpoint-<step>' entries with numeric metrics")
    return records
