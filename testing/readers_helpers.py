"""Helpers for the reader tests: the fixture files and rules.yaml variants written to tmp_path."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from testing_helpers import REPO
from utils.config import Config, load_config

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "readers"


def write_rules(tmp_path: Path, **changes) -> Path:
    """The shipped rules.yaml with top-level keys replaced (None removes the key)."""
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def rules(tmp_path: Path, **changes) -> Config:
    return load_config(write_rules(tmp_path, **changes))


def place(fixture: str, dest: Path) -> Path:
    """Copy a fixture file (path under fixtures/readers) to dest, making folders; returns dest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURES / fixture, dest)
    return dest


def value(frame, **where) -> float:
    """The one value of the tidy frame matching column == value for every keyword."""
    rows = frame
    for col, v in where.items():
        rows = rows[rows[col] == v]
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return float(rows["value"].iloc[0])
