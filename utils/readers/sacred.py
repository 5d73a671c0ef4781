"""Sacred's FileStorageObserver run folders: `metrics.json` beside `run.json`, `{name: {steps,
timestamps, values}}` (non-numbers such as a pickled DataFrame are not metrics), and the numbers of
`run.json`'s `result` (the value the experiment returned, nested or not), filed at the run's last
logged step. The run is `<observer folder>/<run id>` (`my_runs/3`). A metric's `timestamps` (ISO 8601
without an offset: Sacred stamps them with `datetime.utcnow()`, so UTC) give its records' wall time;
the `result` has none."""
from __future__ import annotations

from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (EVAL, TRAIN, Record, find_task, is_bookkeeping, read_json, reader, split_of, to_step,
                           to_value, to_wall_time)
from utils.readers.json_summary import summary_records

NAME = "sacred"


def _sniff(path: Path) -> bool:
    return path.with_name("run.json" if path.name == "metrics.json" else "metrics.json").is_file() and \
        (path.parent / "config.json").is_file()


def _run(path: Path, root: Path) -> str:
    folder = path.parent
    return f"{folder.parent.name}/{folder.name}" if folder.resolve() != root.resolve() else root.resolve().name


def _metrics(path: Path, data: object, experiment: str, config: Config) -> list[Record]:
    if not isinstance(data, dict):
        raise EvalFileError(f"{path}: expected an object of metrics, got {type(data).__name__}")
    out = []
    for name, series in data.items():
        if not isinstance(series, dict) or is_bookkeeping(name):
            continue
        steps, values = series.get("steps"), series.get("values")
        if not isinstance(steps, list) or not isinstance(values, list):
            continue
        cond, metric = split_of(name, TRAIN)
        times = series.get("timestamps")
        times = times if isinstance(times, list) and len(times) == len(steps) else [None] * len(steps)
        by_step = {}
        for raw_step, raw, stamp in zip(steps, values, times):
            step, value = to_step(raw_step), to_value(raw) if not isinstance(raw, str) else None
            if step is not None and value is not None:
                by_step[step] = (value, to_wall_time(stamp, naive_utc=True))
        out += [Record(experiment, cond, find_task(metric, config) or metric, s, metric, "value", v, when)
                for s, (v, when) in by_step.items()]
    return out


def _last_step(metrics: Path) -> int:
    try:
        data = read_json(metrics)
    except EvalFileError:
        return 0
    steps = [to_step(s) for v in (data.values() if isinstance(data, dict) else ()) if isinstance(v, dict)
             for s in (v.get("steps") or [])]
    return max((s for s in steps if s is not None), default=0)


@reader(NAME, "Sacred FileStorageObserver runs: metrics.json and run.json's result", sniff=_sniff,
        accepts=lambda name: name in ("metrics.json", "run.json"))
def read_sacred(path: Path, root: Path, config: Config) -> list[Record]:
    """Read a Sacred run's metrics.json, or the numbers of its run.json `result`."""
    experiment = _run(path, root)
    data = read_json(path)
    if path.name == "metrics.json":
        return _metrics(path, data, experiment, config)
    result = data.get("result") if isinstance(data, dict) else None
    if result is None:
        return []
    return summary_records({"result": result} if not isinstance(result, dict) else result, experiment, config,
                           default=EVAL, at=_last_step(path.with_name("metrics.json")))
