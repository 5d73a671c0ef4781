"""Safe moves: never overwrite, links stay links, metadata kept, never through symlinked folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from organizer import mover as mover_mod
from organizer.errors import MoveError
from organizer.mover import Mover
from organizer_helpers import Link, make_tree, set_mtime

METHODS = ["renameat2", "link", "rename"]


@pytest.fixture(params=METHODS)
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with the preferred move primitive and with each fallback."""
    if request.param == "renameat2" and mover_mod.renameat2 is None:
        pytest.skip("renameat2 not available on this platform")
    if request.param != "renameat2":
        monkeypatch.setattr(mover_mod, "renameat2", None)
    if request.param == "rename":
        def no_link(*a: object, **k: object) -> None:
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(mover_mod.os, "link", no_link)
    return request.param


def test_move_keeps_bytes_mode_mtime_inode(tmp_path: Path, method: str) -> None:
    root = make_tree(tmp_path / "r", {"a.py": b"\x00\x01payload", "dest/keep": "k"})
    src = root / "a.py"
    os.chmod(src, 0o640)
    set_mtime(src, 1_234_567_890_123_456_789)
    before = os.lstat(src)
    with Mover(root) as m:
        used = m.move("a.py", "dest/a.py")
    assert used == method
    after = os.lstat(root / "dest/a.py")
    assert not src.exists()
    assert (root / "dest/a.py").read_bytes() == b"\x00\x01payload"
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == (before.st_ino, before.st_mode, before.st_mtime_ns)
    assert after.st_nlink == 1


def test_never_overwrites(tmp_path: Path, method: str) -> None:
    root = make_tree(tmp_path / "r", {"a.py": "mine", "dest/a.py": "theirs"})
    with Mover(root) as m, pytest.raises(MoveError, match="already exists; not overwriting"):
        m.move("a.py", "dest/a.py")
    assert (root / "a.py").read_text() == "mine"
    assert (root / "dest/a.py").read_text() == "theirs"


def test_never_overwrites_a_dangling_symlink_either(tmp_path: Path, method: str) -> None:
    root = make_tree(tmp_path / "r", {"a.py": "mine", "dest/a.py": Link("nowhere")})
    with Mover(root) as m, pytest.raises(MoveError):
        m.move("a.py", "dest/a.py")
    assert os.readlink(root / "dest/a.py") == "nowhere"
    assert (root / "a.py").read_text() == "mine"


@pytest.mark.parametrize("target", ["real.txt", "somedir", "does/not/exist", "/etc/hostname"])
def test_symlinks_move_as_links(tmp_path: Path, method: str, target: str) -> None:
    root = make_tree(tmp_path / "r", {"real.txt": "data", "somedir/x": "x", "lnk": Link(target), "dest/.keep": ""})
    target_state = os.lstat(root / "real.txt")
    with Mover(root) as m:
        m.move("lnk", "dest/lnk")
    assert os.path.islink(root / "dest/lnk")
    assert os.readlink(root / "dest/lnk") == target
    assert not os.path.lexists(root / "lnk")
    after = os.lstat(root / "real.txt")
    # Everything but the access time, which reading the file (below) may update.
    key = lambda st: (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns)  # noqa: E731
    assert key(after) == key(target_state)
    assert (root / "real.txt").read_text() == "data"
    assert (root / "somedir/x").read_text() == "x"


def test_read_only_file_moves(tmp_path: Path, method: str) -> None:
    root = make_tree(tmp_path / "r", {"ro.csv": "1,2", "dest/.keep": ""})
    os.chmod(root / "ro.csv", 0o444)
    with Mover(root) as m:
        m.move("ro.csv", "dest/ro.csv")
    assert stat.S_IMODE(os.lstat(root / "dest/ro.csv").st_mode) == 0o444
    assert (root / "dest/ro.csv").read_text() == "1,2"


def test_refuses_to_move_through_a_symlinked_folder(tmp_path: Path, method: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make_tree(tmp_path / "r", {"a.py": "a", "plots": Link(str(outside))})
    with Mover(root) as m, pytest.raises(MoveError, match="folder unusable"):
        m.move("a.py", "plots/a.py")
    assert list(outside.iterdir()) == []
    assert (root / "a.py").read_text() == "a"


def test_missing_source_is_an_error(tmp_path: Path, method: str) -> None:
    root = make_tree(tmp_path / "r", {"dest/.keep": ""})
    with Mover(root) as m, pytest.raises(MoveError):
        m.move("ghost.py", "dest/ghost.py")


def test_mkdir_and_rmdir(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "r", {"file": "x", "d/inner": "y"})
    with Mover(root) as m:
        assert m.mkdir("new") is True
        assert m.mkdir("new") is False
        assert m.mkdir("new/deeper") is True
        with pytest.raises(MoveError, match="not a folder"):
            m.mkdir("file")
        assert m.rmdir("d") is False  # not empty
        assert m.rmdir("new/deeper") is True
        assert m.lstat("new/deeper") is None
        assert m.lstat("missing/parent/x") is None
    assert (root / "d/inner").read_text() == "y"


def test_unicode_spaces_and_long_names(tmp_path: Path, method: str) -> None:
    names = ["with space.py", "ünïcødé 日本語.py", "n" * 200 + ".py"]
    root = make_tree(tmp_path / "r", {n: n for n in names} | {"dest/.keep": ""})
    with Mover(root) as m:
        for n in names:
            m.move(n, f"dest/{n}")
    for n in names:
        assert (root / "dest" / n).read_text() == n


def test_cross_device_moves_fail_without_copying(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "r", {"a.py": "a", "dest/.keep": ""})

    def exdev(*a: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(mover_mod, "renameat2", exdev)
    with Mover(root) as m, pytest.raises(MoveError, match="Invalid cross-device link"):
        m.move("a.py", "dest/a.py")
    assert (root / "a.py").read_text() == "a"
    assert not (root / "dest/a.py").exists()
