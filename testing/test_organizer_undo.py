"""Undo: exact restore, stacking, created folders, conflicts, half-finished moves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from organizer import load_default_rules, run_tidy, run_undo
from organizer.errors import JournalError
from organizer_helpers import Link, make_tree, snapshot

SEED = {
    "plot_a.py": "plt.savefig('a.png')",
    "a.png": b"\x89PNG",
    "test_b.py": "def test_b(): pass",
    "analyze_atlantis.py": "x",
    "atlantis_notes.csv": "n",
    "link_to_notes.csv": Link("atlantis_notes.csv"),  # a link to a sibling moves with it
    "plots/existing.png": "old",
    "plots/plot_a.py": "older version",
}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = make_tree(tmp_path / "scratch", SEED)
    for i, p in enumerate(sorted(r.rglob("*"))):
        if not p.is_symlink():
            os.utime(p, ns=(1_600_000_000_000_000_000 + i, 1_600_000_000_000_000_000 + i))
    os.utime(r / "plots", ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    os.utime(r, ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001))
    return r


def test_undo_restores_the_tree_exactly(root: Path) -> None:
    before = snapshot(root)
    result = run_tidy(root, load_default_rules())
    assert result.ok and len(result.done) == 6
    assert (root / "plots/plot_a (2).py").read_text() == "plt.savefig('a.png')"
    undo = run_undo(root)
    assert undo.ok and len(undo.restored) == 6
    assert sorted(undo.removed_dirs) == ["analysis", "testing"]
    assert snapshot(root) == before  # names, bytes, modes, file and folder mtimes, link targets
    assert not (root / ".organizer").exists()


def test_nothing_to_undo(root: Path) -> None:
    with pytest.raises(JournalError, match="nothing to undo"):
        run_undo(root)
    run_tidy(root, load_default_rules())
    run_undo(root)
    with pytest.raises(JournalError, match="nothing to undo"):
        run_undo(root)


def test_tidies_stack_and_undo_reverts_the_latest(root: Path) -> None:
    s0 = snapshot(root)
    run_tidy(root, load_default_rules())
    (root / "test_late.py").write_text("def test_late(): pass")
    (root / "plot_late.py").write_text("late")
    s1 = snapshot(root, exclude=(".organizer",))
    run_tidy(root, load_default_rules())
    assert len(list((root / ".organizer/journal").iterdir())) == 2
    first = run_undo(root)
    assert first.remaining_journals == 1
    assert snapshot(root, exclude=(".organizer",)) == s1
    second = run_undo(root)
    assert second.remaining_journals == 0
    after = snapshot(root)
    assert after.pop("test_late.py")[3] == b"def test_late(): pass"
    assert after.pop("plot_late.py")[3] == b"late"
    assert after == s0


def test_created_folder_with_new_user_files_is_kept(root: Path) -> None:
    run_tidy(root, load_default_rules())
    (root / "testing" / "my_new_test.py").write_text("mine")
    undo = run_undo(root)
    assert undo.ok
    assert undo.kept_dirs == ["testing"]
    assert (root / "testing/my_new_test.py").read_text() == "mine"
    assert (root / "test_b.py").exists()


def test_conflict_at_the_source_is_reported_and_nothing_overwritten(root: Path) -> None:
    run_tidy(root, load_default_rules())
    (root / "test_b.py").write_text("a NEW file where the old one was")
    undo = run_undo(root)
    assert not undo.ok
    assert any("test_b.py" in c for c in undo.conflicts)
    assert (root / "test_b.py").read_text() == "a NEW file where the old one was"
    assert (root / "testing/test_b.py").read_text() == "def test_b(): pass"
    assert (root / "plot_a.py").exists()  # the rest was restored
    assert (root / ".organizer/journal/000001.jsonl").exists()  # kept for a re-run
    # Resolve and re-run: undo finishes.
    (root / "test_b.py").rename(root / "mine.txt")
    again = run_undo(root)
    assert again.ok and (root / "test_b.py").read_text() == "def test_b(): pass"
    assert not (root / ".organizer").exists()


def test_deleted_file_is_a_conflict(root: Path) -> None:
    run_tidy(root, load_default_rules())
    (root / "testing/test_b.py").unlink()
    undo = run_undo(root)
    assert [c for c in undo.conflicts if "missing" in c]


def test_edited_and_replaced_files_go_back(root: Path) -> None:
    run_tidy(root, load_default_rules())
    with open(root / "testing/test_b.py", "a") as f:
        f.write("\n# edited in place\n")
    tmp = root / "analysis/.swp"
    tmp.write_text("replaced by an editor")
    os.replace(tmp, root / "analysis/analyze_atlantis.py")  # new inode, journal says done
    undo = run_undo(root)
    assert undo.ok
    assert (root / "test_b.py").read_text().endswith("# edited in place\n")
    assert (root / "analyze_atlantis.py").read_text() == "replaced by an editor"


def test_half_finished_link_move_is_completed_backwards(root: Path) -> None:
    before = snapshot(root)
    run_tidy(root, load_default_rules())
    # Simulate a crash between link() and unlink() of the fallback mover:
    # the file is back at its source *and* still linked at its destination.
    os.rename(root / "testing/test_b.py", root / "test_b.py")
    os.link(root / "test_b.py", root / "testing/test_b.py")
    assert run_undo(root).ok
    assert snapshot(root) == before


def test_unrelated_file_at_destination_after_a_crash_is_left_alone(root: Path) -> None:
    """Intent written, crash before the move, then a user put their own file at the destination."""
    run_tidy(root, load_default_rules())
    journal = root / ".organizer/journal/000001.jsonl"
    recs = [json.loads(x) for x in journal.read_text().splitlines()]
    move = next(r for r in recs if r["t"] == "move" and r["src"] == "test_b.py")
    recs = [r for r in recs if not (r["t"] == "done" and r["id"] == move["id"]) and r["t"] != "end"]
    journal.write_text("".join(json.dumps(r) + "\n" for r in recs))
    os.rename(root / "testing/test_b.py", root / "elsewhere.py")  # "never moved"...
    (root / "testing/test_b.py").write_text("user's own file")  # ...and a new file took the name
    undo = run_undo(root)
    assert any("is not the file tidy moved there" in c for c in undo.conflicts)
    assert (root / "testing/test_b.py").read_text() == "user's own file"
