"""Atomic writes (utils/atomic.py): the file is replaced whole or not at all, and no temporary
file is left either way."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from utils.atomic import atomic_open, exchange_names


@pytest.mark.parametrize("exists", [False, True], ids=["new", "replacing"])
def test_the_file_is_replaced_whole_and_no_temporary_file_stays(exists: bool, tmp_path: Path) -> None:
    target = tmp_path / "t" / "table.csv"
    if exists:
        target.parent.mkdir()
        target.write_text("old\n")
        kept = tmp_path / "kept"
        os.link(target, kept)  # a name someone else gave the old file
    with atomic_open(target, "w") as fh:
        fh.write("new\n")
        assert target.exists() == exists and (not exists or target.read_text() == "old\n")
    assert target.read_text() == "new\n" and target.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]
    if exists:
        assert kept.read_text() == "old\n"  # the old file itself is untouched, only its name is taken


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("the writer broke")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
@pytest.mark.parametrize("second", ["a file", "missing"])
def test_exchange_names_swaps_two_files_or_does_nothing(second: str, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("A")
    if second == "a file":
        b.write_text("B")
        inodes = a.stat().st_ino, b.stat().st_ino
        assert exchange_names(a, b) is True
        assert (a.read_text(), b.read_text()) == ("B", "A") and (b.stat().st_ino, a.stat().st_ino) == inodes
    else:
        assert exchange_names(a, b) is False
        assert a.read_text() == "A" and not b.exists()