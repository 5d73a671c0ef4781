"""Keras CSVLogger (`CSVLogger("training.log")`, any name ending .csv or .log): a header starting
with `epoch`, one row per epoch; `val_*` columns are the validation set's, the others training
numbers (`learning_rate` a diagnostic). The run is the folder, or `<folder>/<file stem>` when the
folder holds several such logs."""
from __future__ import annotations

from pathlib import Path

from utils.config import Config
from utils.readers import Record, reader
from utils.readers.logs import csv_header, csv_tail, own_name, read_csv_log

NAME = "keras"
_OTHERS = ("results.csv", "metrics.csv", "progress.csv")  # Ultralytics, Lightning, Ray Tune


def _accepts(name: str) -> bool:
    return name.lower().endswith((".csv", ".log")) and name not in _OTHERS


def _sniff(path: Path) -> bool:
    header = csv_header(path)
    return len(header) > 1 and header[0] == "epoch" and "step" not in header and "experiment" not in header


def _tail(path: Path, root: Path, config: Config, start: int) -> list[Record]:
    """The rows appended after byte `start` (watch mode reads a growing log from where it stopped)."""
    return csv_tail(path, own_name(path, root, lambda n: _accepts(n) and n != path.name), config, "epoch", start)


@reader(NAME, "Keras CSVLogger logs (epoch, loss, val_loss, ...)", sniff=_sniff, accepts=_accepts, tail=_tail)
def read_keras(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one Keras CSV log: every column at its epoch."""
    return read_csv_log(path, own_name(path, root, lambda n: _accepts(n) and n != path.name), config, key="epoch")
