"""Hugging Face Trainer output: `trainer_state.json`, `all_results.json` and `eval_results.json`.

Only `eval_*` keys are metrics (`train_*`, `epoch`, `total_flos` are not), and the Trainer's own
bookkeeping (`eval_runtime`, `eval_samples_per_second`, ...) is left out. After `eval_` may come a
condition: its rules.yaml prefix (`atlantis_`) or its name and `_` (the Trainer puts the dict key
there when eval_dataset is a dict). Then `<metric>[_<statistic>]`: the metric names its task when
it starts with a task from rules.yaml (`eval_distance_metric_mean` -> task distance), else the
metric is the task (`eval_accuracy` -> task accuracy).

`all_results.json`/`eval_results.json` hold the final evaluation, without a step: it is filed at
the logged evaluation it repeats (the best checkpoint's, `best_model_checkpoint`, when the run
reloaded it at the end; else the last step), so the loader merges the two into one record; a
final evaluation that differs from the one logged at the last step keeps only its new keys.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (CHECKPOINT, Record, checkpoint_in_path, default_condition, experiment_mode, find_task,
                           folder_condition, folder_experiment, is_bookkeeping, read_json, reader,
                           split_condition, split_metric_key, to_step, to_value)

NAME = "hf_trainer"
STATE = "trainer_state.json"
RESULTS = ("all_results.json", "eval_results.json")


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
        if is_bookkeeping(key[5:]):
            continue
        cond, name = split_condition(key[5:], config, by_name=True)  # eval_dataset dict keys
        if is_bookkeeping(name):
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


def _metric_keys(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, raw in metrics.items() if k.startswith("eval_") and not is_bookkeeping(k[5:])
            and (v := to_value(raw)) is not None}


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    shared = set(a) & set(b)
    return bool(shared) and all(a[k] == b[k] or math.isclose(a[k], b[k], rel_tol=1e-9) for k in shared)


def results_step(path: Path, root: Path, metrics: Mapping[str, Any] | None = None) -> tuple[int, set[str]]:
    """(step, keys to leave out) of a results file, which names no step.

    With a trainer_state.json beside it: the step whose logged evaluation it repeats, the best
    checkpoint's (`best_model_checkpoint`, when the run reloaded it) before the last
    (`global_step`); else the last step, leaving out the keys logged there with another value
    (never a second value at one step). Without: N of the innermost `checkpoint-<N>` folder, else 0."""
    final = _metric_keys(metrics or {})
    sibling = path.with_name(STATE)
    state = None
    if sibling.is_file():
        try:
            state = read_json(sibling)
        except EvalFileError:
            state = None
    last = to_step(state.get("global_step")) if isinstance(state, dict) else None
    if last is None:
        found = checkpoint_in_path(path, root)
        return (found if found is not None else 0), set()
    logged: dict[int, dict[str, float]] = {}
    history = state.get("log_history")
    for entry in history if isinstance(history, list) else ():
        step = to_step(entry.get("step")) if isinstance(entry, dict) else None
        if step is not None:
            logged.setdefault(step, {}).update(_metric_keys(entry))
    best = state.get("best_model_checkpoint")
    m = CHECKPOINT.match(Path(best).name) if isinstance(best, str) and best else None
    for step in ([int(m.group(1))] if m else []) + [last]:
        if _same(final, logged.get(step, {})):
            return step, set()
    clash = {k for k, v in logged.get(last, {}).items() if k in final and not _same({k: v}, {k: final[k]})}
    return last, clash


@reader(NAME, "Hugging Face Trainer trainer_state.json (log_history), all_results.json, eval_results.json",
        sniff=_sniff, experiment_from=("top", "run"), accepts=lambda name: name == STATE or name in RESULTS)
def read_hf_trainer(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one Trainer file; experiment from its folder, step from log_history or the run state."""
    experiment = folder_experiment(path, root, experiment_mode(path, root, config, NAME), config)
    condition = folder_condition(path, root, config, skip=experiment) or default_condition(config)
    data = read_json(path)
    if path.name == STATE:
        return _state_records(path, data, experiment, condition, config)
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object of metrics, got {type(data).__name__}")
    step, clash = results_step(path, root, data)
    records = metric_records({k: v for k, v in data.items() if k not in clash}, experiment, condition, step,
                             config)
    if not records and path.name == "eval_results.json":
        raise EvalFileError(f"{path}: no numeric 'eval_*' metrics")
    return records  # all_results.json of a run trained without evaluation holds none: fine
