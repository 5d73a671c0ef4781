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
import re
from pathlib import Path
from typing import Any, Mapping

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (CHECKPOINT, EVAL, NO_STEP, TEST, TRAIN, Record, checkpoint_in_path, experiment_mode,
                           find_task, folder_condition, folder_experiment, head, is_bookkeeping, read_json, reader,
                           split_condition, split_metric_key, to_step, to_value)

NAME = "hf_trainer"
STATE = "trainer_state.json"
RESULTS = ("all_results.json", "eval_results.json")


_PREFIXED = re.compile(rb'"(eval|train|test|predict)_[^"]*"\s*:\s*-?[\d.]')


def _sniff(path: Path) -> bool:
    """trainer_state.json; a `*_results.json` holding a Trainer key (`"eval_loss": 0.3`, `train_*`,
    `test_*`, `predict_*`) at its start (evaluation_results.json outside the sweep's layout too)."""
    if path.name == STATE:
        return True
    return _is_results(path.name) and bool(_PREFIXED.search(head(path, 4096)))


# `eval_<set>_runtime` and the like: the Trainer writes them once per evaluation set of an
# `eval_dataset` dict; they name the sets, so `eval_<set>_loss` is told from a metric `eval_<x>_loss`.
_SET_MARK = re.compile(r"^eval_(.+)_(runtime|samples_per_second|steps_per_second)$")
_SET_ENDS = ("_runtime", "_per_second")
_TEST = ("test_", "predict_")


def metric_records(metrics: Mapping[str, Any], experiment: str, condition: str, step: int,
                   config: Config, train_step: int | None = None,
                   walls: Mapping[str, float | None] | None = None) -> list[Record]:
    """Records for every number of one Trainer metrics dict (a log_history entry or a results file).

    `eval_*` keys are the evaluation set's (`condition`, e.g. "eval"; a rules.yaml condition when the
    key names one; `eval_<set>` for a set of an eval_dataset dict), `test_*`/`predict_*` the test
    set's, every other key a training number ("train": loss, grad_norm, learning_rate, TRL's
    rewards/*, logps/*; the run summary's train_loss) filed at `train_step` when given. Bookkeeping
    (epoch, runtime, throughput, memory, FLOPs, sample counts) is left out. `walls`: each key's wall
    time, where the file has one (TensorBoard's events; the Trainer's JSON files have none)."""
    marks = [k for k in metrics if k.endswith(_SET_ENDS)]
    sets = tuple(sorted({m.group(1) for k in marks if (m := _SET_MARK.match(k))}, key=len, reverse=True)) \
        if marks else ()
    plans = _plans(config, sets, condition)
    out = []
    for key, raw in metrics.items():
        plan = plans.get(key, _UNPLANNED)
        if plan is _UNPLANNED:
            plan = plans[key] = _plan(key, sets, condition, config)
        if plan is None:
            continue
        value = to_value(raw)
        if value is None:
            continue
        cond, task, metric, stat, train = plan
        out.append(Record(experiment, cond, task, step if not train or train_step is None else train_step, metric,
                          stat, value, walls.get(key) if walls else None))
    return out


_UNPLANNED = object()
_PLANS: dict[tuple, tuple] = {}  # (id(config), sets, condition) -> (config, {key: plan}); keys repeat per row


def _plans(config: Config, sets: tuple[str, ...], condition: str) -> dict[str, tuple | None]:
    held = _PLANS.get((id(config), sets, condition))
    if held is None or held[0] is not config:  # the cache holds the config, so its id stays its own
        if len(_PLANS) > 256:
            _PLANS.clear()
        held = _PLANS[(id(config), sets, condition)] = (config, {})
    return held[1]


def _plan(key: str, sets: tuple[str, ...], condition: str, config: Config) -> tuple | None:
    """(condition, task, metric, statistic, is a training number) of one Trainer key, or None for a
    key that is not a metric (see `metric_records`)."""
    if key == "step" or is_bookkeeping(key):
        return None
    train = False
    if key.startswith("eval_"):
        cond, name = split_condition(key[5:], config, by_name=True)  # eval_dataset dict keys
        if cond is None:
            named = next((s for s in sets if key[5:].startswith(s + "_")), None)
            cond, name = (f"eval_{named}", key[6 + len(named):]) if named else (condition, key[5:])
    elif key.startswith(_TEST):
        cond, name = TEST, key.split("_", 1)[1]
    else:
        cond, name, train = TRAIN, key, True
    if not name or is_bookkeeping(name):
        return None
    metric, stat = split_metric_key(name) if "/" not in name else (name, "value")
    return cond, find_task(metric, config) or metric, metric, stat, train


def _state_records(path: Path, data: Any, experiment: str, condition: str, config: Config) -> list[Record]:
    history = data.get("log_history") if isinstance(data, dict) else None
    if not isinstance(history, list):
        raise EvalFileError(f"{path}: no 'log_history' list; not a Trainer state file")
    records: list[Record] = []
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise EvalFileError(f"{path}: log_history[{i}]: expected an object, got {type(entry).__name__}")
        step = to_step(entry.get("step"))
        if step is None:
            raise EvalFileError(f"{path}: log_history[{i}]: entry without a whole-number 'step'")
        records += metric_records(entry, experiment, condition, step, config)
    return records  # nothing logged yet is a valid state; the loader reports the file as read but empty


def _metric_keys(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: v for k, raw in metrics.items() if k.startswith("eval_") and not is_bookkeeping(k[5:])
            and (v := to_value(raw)) is not None}


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    shared = set(a) & set(b)
    return bool(shared) and all(a[k] == b[k] or math.isclose(a[k], b[k], rel_tol=1e-9) for k in shared)


def results_step(path: Path, root: Path, metrics: Mapping[str, Any] | None = None) -> tuple[int, set[str], int]:
    """(step, keys to leave out, last step) of a results file, which names no step.

    With a trainer_state.json beside it: the step whose logged evaluation it repeats, the best
    checkpoint's (`best_model_checkpoint`, when the run reloaded it) before the last
    (`global_step`); else the last step, leaving out the keys logged there with another value
    (never a second value at one step). Without: N of the innermost `checkpoint-<N>` folder, else
    NO_STEP (the loader files it at the step it repeats or the run's last step).
    The last step is where the run's training summary (train_loss) and test results belong."""
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
        found = found if found is not None else NO_STEP
        return found, set(), found
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
            return step, set(), last
    clash = {k for k, v in logged.get(last, {}).items() if k in final and not _same({k: v}, {k: final[k]})}
    return last, clash, last


def _is_results(name: str) -> bool:
    return name.endswith("_results.json")


@reader(NAME, "Hugging Face Trainer trainer_state.json (every log_history row), *_results.json (all, eval, train, "
        "test, predict, ...) and flat {eval_*, train_*, test_*} dicts", sniff=_sniff, experiment_from=("top", "run"),
        accepts=lambda name: name == STATE or _is_results(name))
def read_hf_trainer(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one Trainer file; experiment from its folder, step from log_history or the run state."""
    experiment = folder_experiment(path, root, experiment_mode(path, root, config, NAME), config)
    condition = folder_condition(path, root, config, skip=experiment) or EVAL
    data = read_json(path)
    if path.name == STATE:
        return _state_records(path, data, experiment, condition, config)
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object of metrics, got {type(data).__name__}")
    step, clash, last = results_step(path, root, data)
    return metric_records({k: v for k, v in data.items() if k not in clash}, experiment, condition, step, config,
                          train_step=last)
