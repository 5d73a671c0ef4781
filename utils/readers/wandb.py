"""Weights & Biases run files: `wandb/run-<date>-<id>/files/wandb-summary.json`, the last value of
every logged metric. The step is the Trainer's `train/global_step` when the run logged it, else
W&B's own `_step`; `_runtime`, `_timestamp`, `_wandb` and bookkeeping are not metrics; `train/*`,
`eval/*` and `val_`/`validation_`/`training_` names give the condition, other names are training
numbers. The run is the `run-<date>-<id>` folder. The records' wall time is the summary's `_timestamp`
(seconds since the epoch of the run's last logged row, the step they are filed at), where it has one."""
from __future__ import annotations

from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (TRAIN, Record, find_task, is_bookkeeping, read_json, reader, split_of, to_step, to_value,
                           to_wall_time)

NAME = "wandb"


@reader(NAME, "Weights & Biases wandb-summary.json", sniff=lambda path: True,
        accepts=lambda name: name == "wandb-summary.json")
def read_wandb(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one wandb-summary.json: every number at the run's last step."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object, got {type(data).__name__}")
    folder = path.parent.parent if path.parent.name == "files" else path.parent
    experiment = folder.name if folder.resolve() != root.resolve() else root.resolve().name
    step = to_step(data.get("train/global_step"))
    step = step if step is not None else to_step(data.get("_step")) or 0
    when = to_wall_time(data.get("_timestamp"))
    out = []
    for key, raw in data.items():
        if key.startswith("_") or isinstance(raw, (dict, list, str)) or raw is None or is_bookkeeping(key):
            continue
        value = to_value(raw)
        if value is None:
            continue
        cond, metric = split_of(key, TRAIN)
        if is_bookkeeping(metric):
            continue
        out.append(Record(experiment, cond, find_task(metric, config) or metric, step, metric, "value", value, when))
    return out
