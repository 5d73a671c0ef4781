"""The MLflow local file store: `mlruns/<experiment id>/<run id>/metrics/<name>` (any store folder:
Ultralytics writes `runs/mlflow/`), one file per metric, a line `<timestamp ms> <value> <step>` per
logged value; names with `/` are nested folders (`metrics/train/box_loss`). The run is named by
`run_name` in the run's `meta.yaml` (read with PyYAML; else the `mlflow.runName` tag, else the run
id). A step logged twice keeps the later value (and its time). A line's timestamp (milliseconds since
the epoch) is its record's wall time, in seconds. `meta.yaml`, `params/` and `tags/` are not metrics."""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import TRAIN, Record, find_task, is_bookkeeping, reader, split_of, to_step, to_value, to_wall_time

NAME = "mlflow"


def _run_folder(path: Path) -> tuple[Path, str] | None:
    """(run folder, metric name) for a file under `<run>/metrics/`, the run folder holding meta.yaml."""
    parts = path.parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] == "metrics":
            run = Path(*parts[:i])
            if (run / "meta.yaml").is_file():
                return run, "/".join(parts[i + 1:])
    return None


def _sniff(path: Path) -> bool:
    return "metrics" in path.parts[:-1] and _run_folder(path) is not None


@functools.lru_cache(maxsize=1024)
def run_name(run: Path) -> str:
    """The run's name from its meta.yaml (`run_name`), else its `mlflow.runName` tag, else its id."""
    try:
        meta = yaml.safe_load((run / "meta.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        meta = None
    name = meta.get("run_name") if isinstance(meta, dict) else None
    if not name:
        try:
            name = (run / "tags" / "mlflow.runName").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = ""
    return str(name) or run.name


@reader(NAME, "MLflow local file store: <run>/metrics/<name> (run name from meta.yaml)", sniff=_sniff)
def read_mlflow(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one MLflow metric file: its value at every step."""
    found = _run_folder(path)
    if found is None:
        raise EvalFileError(f"{path}: not under <run>/metrics/ beside a meta.yaml")
    run, name = found
    if is_bookkeeping(name):
        return []
    cond, metric = split_of(name, TRAIN)
    values: dict[int, tuple[float, float | None]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        value = to_value(fields[1]) if len(fields) >= 2 else None
        step = to_step(fields[2]) if len(fields) >= 3 else 0
        if value is None or step is None:
            raise EvalFileError(f"{path}: line {number}: expected '<timestamp> <value> <step>', got {line!r}")
        values[step] = (value, _seconds(fields[0]))  # a step logged twice (a final validation): the later one
    experiment = run_name(run)
    task = find_task(metric, config) or metric
    return [Record(experiment, cond, task, step, metric, "value", value, when)
            for step, (value, when) in values.items()]


def _seconds(millis: str) -> float | None:
    """The wall time of a line's timestamp (milliseconds since the epoch), None when it is not one."""
    ms = to_value(millis)
    return to_wall_time(ms / 1000) if ms is not None else None
