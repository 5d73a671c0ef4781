"""PyTorch Lightning CSVLogger: `lightning_logs/version_N/metrics.csv`. Sparse rows (training and
validation numbers on different lines, steps one apart, an `lr-Adam` row with an empty epoch),
`nan` cells (read as missing), column names with spaces and `/`. Each `version_N` is a run of its
own, named `<run>/version_N` (the run: the folder holding `lightning_logs/`)."""
from __future__ import annotations

import re
from pathlib import Path

from utils.config import Config
from utils.readers import Record, reader
from utils.readers.logs import csv_header, csv_tail, read_csv_log

NAME = "lightning"
_VERSION = re.compile(r"^version_\d+$")


def _sniff(path: Path) -> bool:
    """metrics.csv whose header has a `step` column (Lightning always logs it)."""
    return "step" in csv_header(path)


def run_name(path: Path, root: Path) -> str:
    """`<run>/version_N` for `<run>/lightning_logs/version_N/metrics.csv`; else the folder's name."""
    folder = path.parent
    if _VERSION.match(folder.name):
        above = folder.parent.parent if folder.parent.name == "lightning_logs" else folder.parent
        top = above.name if above.resolve() != root.resolve().parent else root.resolve().name
        return f"{top}/{folder.name}"
    return folder.name if folder.resolve() != root.resolve() else root.resolve().name


def _tail(path: Path, root: Path, config: Config, start: int) -> list[Record]:
    """The rows appended after byte `start` (watch mode reads a growing log from where it stopped)."""
    return csv_tail(path, run_name(path, root), config, "step", start)


@reader(NAME, "PyTorch Lightning CSVLogger lightning_logs/version_N/metrics.csv", sniff=_sniff,
        accepts=lambda name: name == "metrics.csv", tail=_tail)
def read_lightning(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one Lightning metrics.csv: every logged number at its step."""
    return read_csv_log(path, run_name(path, root), config, key="step")
