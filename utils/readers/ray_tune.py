"""Ray Tune trial folders: `progress.csv` (one row per `training_iteration`; `config/*` columns are
hyper-parameters, `done`, `timestamp`, `time_*`, `pid` bookkeeping). A row's `timestamp` (seconds since
the epoch when the trial reported it) is its records' wall time. The trial's `result.json` (JSON Lines,
the same numbers) is read by the JSON Lines log reader under the same run, so each number is kept once.
The run is the trial folder."""
from __future__ import annotations

from pathlib import Path

from utils.config import Config
from utils.readers import Record, reader
from utils.readers.logs import csv_header, csv_tail, folder_run, read_csv_log

WALL = ("timestamp",)

NAME = "ray_tune"


def _sniff(path: Path) -> bool:
    return "training_iteration" in csv_header(path)


def _tail(path: Path, root: Path, config: Config, start: int) -> list[Record]:
    """The rows appended after byte `start` (watch mode reads a growing log from where it stopped)."""
    return csv_tail(path, folder_run(path, root), config, "training_iteration", start, drop=("config/",), wall=WALL)


@reader(NAME, "Ray Tune trial progress.csv", sniff=_sniff, accepts=lambda name: name == "progress.csv",
        tail=_tail)
def read_ray_progress(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one trial's progress.csv: every reported number at its training iteration."""
    return read_csv_log(path, folder_run(path, root), config, key="training_iteration", drop=("config/",),
                        wall=WALL)
