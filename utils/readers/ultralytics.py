"""Ultralytics YOLO `results.csv` (padded column names in YOLOv8): one row per epoch as written
(0- or 1-based); `train/*` training losses, `val/*` and `metrics/*` (precision, recall, mAP, top-1)
the validation set's, `lr/pg*` diagnostics, `time` wall time (left out). The run is the folder."""
from __future__ import annotations

from pathlib import Path

from utils.config import Config
from utils.readers import Record, reader
from utils.readers.logs import csv_header, csv_tail, folder_run, read_csv_log

NAME = "ultralytics"


def _sniff(path: Path) -> bool:
    header = csv_header(path)
    return bool(header) and header[0] == "epoch" and any(c.startswith(("train/", "metrics/")) for c in header)


def _tail(path: Path, root: Path, config: Config, start: int) -> list[Record]:
    """The rows appended after byte `start` (watch mode reads a growing log from where it stopped)."""
    return csv_tail(path, folder_run(path, root), config, "epoch", start)


@reader(NAME, "Ultralytics YOLO results.csv", sniff=_sniff, accepts=lambda name: name == "results.csv",
        tail=_tail)
def read_ultralytics(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one results.csv: every column at its epoch."""
    return read_csv_log(path, folder_run(path, root), config, key="epoch")
