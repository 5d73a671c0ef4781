"""Hugging Face Trainer output: `trainer_state.json`, `all_results.json` and `eval_results.json`.

Only `eval_*` keys are metrics (`train_*`, `epoch`, `total_flos` are not), and the Trainer's own
bookkeeping (`eval_runtime`, `eval_samples_per_second`, ...) is left out. After `eval_` may come a
condition: its rules.yaml prefix (`atlantis_`) or its name and `_` (the Trainer puts the dict key
there when eval_dataset is a dict). Then `<metric>[_<statistic>]`: the metric names its task when
it starts with a task from rules.yaml (`eval_distance_metric_mean` -> task distance), else the
metric is the task (`eval_accuracy` -> task accuracy).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (Record, checkpoint_in_path, default_condition, experiment_mode, find_task,
                           folder_condition, folder_experiment, read_json, reader, split_condition,
                           split_metric_key, to_step, to_value)

NAME = "hf_trainer"
STATE = "trainer_state.json"
RESULTS = ("all_results.json", "eval_results.json")
BOOKKEEPING = frozenset({"runtime", "samples_per_second", "steps_per_second", "samples",
                         "jit_compilation_time", "model_preparation_time", "epoch"})


def _sniff(path: Path) -> bool:
    return path.name == STATE or path.name in RESULTS


def metric_records(metrics: Mapping[str, Any], experiment: str, condition: str, step: int,
                   config: Config) -> list[Record]:
    """Records for the `eval_*` entries of one metrics dict (a log_history entry or a results file)."""
    out = []
    for key, raw in metrics.items():
        if not key.startswith("eval_"):
            continue
        value = to_value(raw)
        if value is None:
            continue
        cond, name = split_condition(key[5:], config, by_name=True)  # eval_dataset dict keys
        if name in BOOKKEEPING:
            continue
        metric, stat = split_metric_key(name)
        task = find_task(metric, config) or metric
        out.append(Record(experiment, cond or condition, task, step, metric, stat, value))
    return out


def _state_records(path: Path, data: Any, experiment: str, condition: str, config: Config) -> list[Record]:
    history = data.get("log_history") if isinstance(data, dict) else None
    if not isinstance(history, list):
        raise EvalFileError(f"{path}: no 'log_history' list; not a Trainer state file")
    records: list[Record] = []
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise EvalFileError(f"{path}: log_history[{i}]: expected an object, got {type(entry).__name__}")
        if not any(k.startswith("eval_") for k in entry):
            continue  # a training-loss entry
        step = to_step(entry.get("step"))
        if step is None:
            raise EvalFileError(f"{path}: log_history[{i}]: evaluation entry without a whole-number 'step'")
        records += metric_records(entry, experiment, condition, step, config)
    return records  # no evaluation logged yet is a valid state: nothing to show, no problem


def results_step(path: Path, root: Path) -> int:
    """The step of a results file (which has none): the sibling trainer_state.json's global_step,
    else N of the innermost `checkpoint-<N>` folder, else 0."""
    sibling = path.with_name(STATE)
    if sibling.is_file():
        try:
            step = to_step(read_json(sibling).get("global_step"))
        except (EvalFileError, AttributeError):
            step = None
        if step is not None:
            return step
    found = checkpoint_in_path(path, root)
    return found if found is not None else 0


@reader(NAME, "Hugging Face Trainer trainer_state.json (log_history), all_results.json, eval_results.json",
        sniff=_sniff, experiment_from=("top", "run"))
def read_hf_trainer(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one Trainer file; experiment from its folder, step from log_history or the run state."""
    experiment = folder_experiment(path, root, experiment_mode(path, root, config, NAME))
    condition = folder_condition(path, root, config, skip=experiment) or default_condition(config)
    data = read_json(path)
    if path.name == STATE:
        return _state_records(path, data, experiment, condition, config)
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object of metrics, got {type(data).__name__}")
    records = metric_records(data, experiment, condition, results_step(path, root), config)
    if not records and path.name == "eval_results.json":
        raise EvalFileError(f"{path}: no numeric 'eval_*' metrics")
    return records  # all_results.json of a run trained without evaluation holds none: fine
