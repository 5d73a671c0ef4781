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


# The real result files public projects committed (../shared/real_formats/tree beside the clone);
# tests using them are skipped, with this reason, when the folder is absent.
REAL = REPO / ".." / "shared" / "real_formats" / "tree"
REAL_MISSING = f"real result files not found at {REAL} (they sit beside the clone in CI)"


def real(rel: str) -> Path:
    """A real result file or folder by its path under the real tree (skips the test when absent)."""
    import pytest
    path = REAL / rel
    if not path.exists():
        pytest.skip(REAL_MISSING)
    return path


def copy_real(rels: list[str], dest: Path) -> Path:
    """Copy real files or folders (paths under the real tree) into dest, keeping their paths."""
    for rel in rels:
        src = real(rel)
        target = dest / rel
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    return dest
