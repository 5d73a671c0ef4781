"""utils/walk.py: the files under a data root, entering linked folders once, and the input stamp
(runner/fingerprint.scan_tree) seeing the same files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.fingerprint import scan_tree
from utils.walk import files_under


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rels(root: Path) -> list[str]:
    return [rel for _, rel in files_under(os.fspath(root))]


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A data root with one plain run, and a run on 'other storage' outside it."""
    root, storage = tmp_path / "root", tmp_path / "storage"
    touch(root / "a" / "evals" / "r.json")
    touch(storage / "b" / "evals" / "r.json")
    touch(storage / "b" / "evals" / "deep" / "s.json")
    return root, storage


def test_a_linked_folder_is_entered_under_the_links_name(tree):
    root, storage = tree
    (root / "b").symlink_to(storage / "b", target_is_directory=True)
    assert rels(root) == ["a/evals/r.json", "b/evals/deep/s.json", "b/evals/r.json"]
    paths = [p for p, _ in files_under(os.fspath(root))]
    assert paths[1] == os.path.join(root, "b", "evals", "deep", "s.json")  # the link's path, not resolved


@pytest.mark.parametrize("link, target, via", [
    ("b/evals/loop", "storage/b", "b"),      # a link back up inside the linked folder
    ("b/evals/root", "root", "b"),           # a link to the data root itself
    ("deep_again", "storage/b/evals/deep", "b"),  # a folder already walked inside a linked one
    ("a_again", "root/a", "b"),              # a folder of the root's own tree: walked there
    ("again", "storage/b", "again"),         # a second link to one folder: the first by name is walked
])
def test_each_real_folder_is_walked_once_and_loops_end(tree, tmp_path, link, target, via):
    root, storage = tree
    (root / "b").symlink_to(storage / "b", target_is_directory=True)
    (root / link).symlink_to(tmp_path / target, target_is_directory=True)
    assert rels(root) == ["a/evals/r.json", f"{via}/evals/deep/s.json", f"{via}/evals/r.json"]


def test_hidden_and_temporary_files_are_left_out_and_files_are_sorted(tmp_path):
    root = tmp_path / "root"
    for rel in ("z.json", "a.json", ".hidden.json", "x.json.tmp", ".cache/y.json", "m/n.json"):
        touch(root / rel)
    assert rels(root) == ["a.json", "m/n.json", "z.json"]


def test_the_input_stamp_sees_the_files_in_linked_folders(tree):
    root, storage = tree
    (root / "b").symlink_to(storage / "b", target_is_directory=True)
    before = scan_tree(root)
    assert set(before) == {p for p, _ in files_under(os.fspath(root))}
    changed = touch(storage / "b" / "evals" / "r.json", "a longer text")
    after = scan_tree(root)
    assert after[os.path.join(root, "b", "evals", "r.json")] != before[os.path.join(root, "b", "evals", "r.json")]
    assert changed.stat().st_size == after[os.path.join(root, "b", "evals", "r.json")][0]
