"""Atomic writes (utils/atomic.py): the file is replaced whole or not at all, and no temporary
file is left either way."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from utils.atomic import atomic_open


@pytest.mark.parametrize("vacate", [False, True], ids=["renamed over", "vacated first"])
@pytest.mark.parametrize("exists", [False, True], ids=["new", "replacing"])
def test_the_file_is_replaced_whole_and_no_temporary_file_stays(vacate: bool, exists: bool, tmp_path: Path) -> None:
    target = tmp_path / "t" / "table.csv"
    if exists:
        target.parent.mkdir()
        target.write_text("old\n")
        kept = tmp_path / "kept"
        os.link(target, kept)  # what the writer of a blocked table holds on to
    with atomic_open(target, "w", vacate=vacate) as fh:
        fh.write("new\n")
        assert target.exists() == exists and (not exists or target.read_text() == "old\n")
    assert target.read_text() == "new\n" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]
    if exists:
        assert kept.read_text() == "old\n"  # the old file itself is untouched, only its name is taken


@pytest.mark.parametrize("vacate", [False, True], ids=["renamed over", "vacated first"])
def test_a_failed_write_leaves_the_old_file(vacate: bool, tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w", vacate=vacate) as fh:
            fh.write("half")
            raise RuntimeError("the writer broke")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


@pytest.mark.parametrize("exchange", [True, False], ids=["names exchanged", "no exchange: renamed over"])
def test_a_vacated_file_is_never_missing(exchange: bool, tmp_path: Path, monkeypatch) -> None:
    """A watcher reading tables/scores.csv while it is rewritten finds the old file or the new one:
    the target's name is never removed, not even for a moment (it is exchanged, or renamed over)."""
    import utils.atomic as atomic
    if not exchange:
        monkeypatch.setattr(atomic, "_renameat2", lambda: None)
    target = tmp_path / "scores.csv"
    target.write_text("old\n")
    removed = []
    unlink = os.unlink

    def watched(path, *args, **kwargs):
        removed.append(Path(path))
        assert target.exists(), "the table was gone while it was rewritten"
        return unlink(path, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "unlink", watched)
    with atomic_open(target, "w", vacate=True) as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["scores.csv"]
    assert target not in removed
