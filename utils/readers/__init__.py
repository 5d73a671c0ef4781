"""Pluggable readers: one per evaluation file format, each turning a file into tidy records.

A reader is a function decorated with `@reader("name")` that takes (path, root, config) and
returns a list of `Record`s; it raises `EvalFileError` for a file it cannot read. Reader modules
in this package are found by scanning it, so a new format is one new file here.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

from utils.config import Config


class Record(NamedTuple):
    """One number from one evaluation file: the row of the tidy table minus its source."""

    experiment: str
    condition: str
    task: str
    step: int
    metric: str
    statistic: str
    value: float


ReadFn = Callable[[Path, Path, Config], list[Record]]


@dataclass(frozen=True)
class ReaderInfo:
    name: str
    read: ReadFn
    description: str
    sniff: Callable[[Path], bool] | None = None


_READERS: dict[str, ReaderInfo] = {}


def reader(name: str, description: str = "", sniff: Callable[[Path], bool] | None = None
           ) -> Callable[[ReadFn], ReadFn]:
    """Register a reader under `name` (the value used in rules.yaml `readers[].reader`)."""
    def register(fn: ReadFn) -> ReadFn:
        _READERS[name] = ReaderInfo(name, fn, description or (fn.__doc__ or "").strip(), sniff)
        return fn
    return register


def all_readers() -> dict[str, ReaderInfo]:
    """Every reader in this package, by name."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return dict(_READERS)


STATISTICS = ("mean", "std", "sem", "stderr", "median", "min", "max", "count", "var")


def split_metric_key(key: str) -> tuple[str, str]:
    """`eval_distance_metric_mean` -> ("distance_metric", "mean"); no known suffix -> "value"."""
    name = key[5:] if key.startswith("eval_") else key
    for stat in STATISTICS:
        if name.endswith("_" + stat):
            return name[: -len(stat) - 1], stat
    return name, "value"
