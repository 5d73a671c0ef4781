"""The default layout: `<experiment>/evals/<[prefix]task>/eval_data/evaluation_results.json`."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import Columns, Record, read_json, reader, split_metric_key, to_value

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _sniff(path: Path) -> bool:
    """evaluation_results.json in the `<experiment>/evals/<task>/...` layout (the same name elsewhere,
    a flat metrics dict, goes to the other readers)."""
    return path.name == "evaluation_results.json" and "evals" in path.parts[:-2]


def _where(path: Path, root: Path, config: Config) -> tuple[str, str, str]:
    """(experiment, condition, task) of a file from its place in the layout."""
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
    return (sys.intern(experiment), *map(sys.intern, cond_task))


_FLOATS = {float}


def read_evaluation_columns(path: Path, root: Path, config: Config) -> Columns:
    """`read_evaluation_results` straight into columns: a sweep's files repeat one layout of metric
    keys, so each checkpoint whose values are all plain floats is taken whole, its keys split once
    per file; the rest go value by value, as `read_evaluation_results` reads them."""
    experiment, condition, task = _where(path, root, config)
    data = read_json(path)
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object of checkpoints, got {type(data).__name__}")
    steps: list[int] = []
    metrics: list[str] = []
    stats: list[str] = []
    values: list[float] = []
    layouts: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    for key, entry in data.items():
        m = _CHECKPOINT.match(key)
        if not m:
            continue
        if not isinstance(entry, dict):
            raise EvalFileError(f"{path}: {key}: expected an object of metrics")
        step = int(m.group(1))
        vals = list(entry.values())
        if set(map(type, vals)) <= _FLOATS:
            names = tuple(entry)
            layout = layouts.get(names)
            if layout is None:
                split = [split_metric_key(n) for n in names]
                layout = layouts[names] = ([s[0] for s in split], [s[1] for s in split])
            metrics += layout[0]
            stats += layout[1]
            values += vals
            steps += [step] * len(vals)
            continue
        for name, value in entry.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) and value is not None:
                continue  # strings such as timestamps or model names are not metrics
            metric, stat = split_metric_key(name)
            metrics.append(metric)
            stats.append(stat)
            values.append(to_value(value))
            steps.append(step)
    if not values:
        raise EvalFileError(f"{path}: no 'checkpoint-<step>' entries with numeric metrics")
    n = len(values)
    return Columns([experiment] * n, [condition] * n, [task] * n, steps, metrics, stats, values)


@reader("evaluation_results", "per-checkpoint JSON in the experiments/<exp>/evals/<task>/eval_data layout",
        sniff=_sniff, accepts=lambda name: name == "evaluation_results.json", columns=read_evaluation_columns)
def read_evaluation_results(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one evaluation_results.json: {"checkpoint-<step>": {"eval_<metric>_<stat>": v}}."""
    return read_evaluation_columns(path, root, config).records()
