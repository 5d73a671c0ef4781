"""The write-ahead journal: format, torn writes, corruption, locking, refusal to stack on a crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from organizer import load_default_rules, run_tidy
from organizer.errors import JournalError, StateError
from organizer.journal import Journal, StateDir, check_resumable, read_journal
from organizer_helpers import make_tree


def _journal(root: Path) -> Path:
    (path,) = (root / ".organizer" / "journal").glob("*.jsonl")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_every_move_has_an_intent_before_its_outcome(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "a", "test_b.py": "b", "notes.txt": "n"})
    result = run_tidy(root, load_default_rules())
    recs = _lines(_journal(root))
    assert recs[0]["t"] == "begin" and recs[0]["version"] == 1
    assert recs[-1]["t"] == "end" and recs[-1]["moved"] == 2
    kinds = [r["t"] for r in recs]
    for r in recs:
        if r["t"] == "move":
            i = recs.index(r)
            assert {"t": "done", "id": r["id"]} in recs[i + 1:]
            assert r["git"] is False and r["ino"] > 0
    assert kinds.count("mkdir") == 2  # plots, testing
    assert {(r["src"], r["dst"]) for r in recs if r["t"] == "move"} == {
        (m.source, m.destination) for m in result.done}
    assert "" in recs[0]["dirs"]  # the tidied folder's times, for undo
    assert (root / ".organizer/.gitignore").read_text().strip().endswith("*")


def test_torn_last_line_is_ignored_but_corruption_is_not(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "a"})
    run_tidy(root, load_default_rules())
    path = _journal(root)
    good = path.read_bytes()
    path.write_bytes(good + b'{"t":"move","id":9,"src":"x","ds')
    assert len(read_journal(path).moves) == 1
    path.write_bytes(b'{"t":"begin","version":1}\nGARBAGE\n' + good.split(b"\n", 1)[1])
    with pytest.raises(JournalError, match="corrupt"):
        read_journal(path)
    path.write_bytes(b'{"t":"something"}\n')
    with pytest.raises(JournalError, match="not an organizer journal"):
        read_journal(path)
    path.write_bytes(b"")
    with pytest.raises(JournalError, match="empty journal"):
        read_journal(path)


@pytest.mark.parametrize("bad", ["../outside", "/etc/passwd", ".organizer/lock", "a/../../b"])
def test_journal_paths_outside_the_folder_are_refused(tmp_path: Path, bad: str) -> None:
    p = tmp_path / "000001.jsonl"
    recs = [{"t": "begin", "version": 1}, {"t": "move", "id": 1, "src": "a", "dst": bad, "dev": 1, "ino": 1}]
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(JournalError):
        read_journal(p)


def test_lock_excludes_a_second_organizer(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    a, b = StateDir(root), StateDir(root)
    a.ensure()
    a.acquire()
    try:
        with pytest.raises(StateError, match="another organizer is working"):
            b.acquire()
    finally:
        a.release()
    b.acquire()
    b.release()


def test_dry_run_refuses_while_a_tidy_is_running(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "a"})
    running = StateDir(root)
    running.ensure()
    running.acquire()
    try:
        with pytest.raises(StateError, match="another organizer is working"):
            run_tidy(root, load_default_rules(), dry_run=True)
        with pytest.raises(StateError, match="another organizer is working"):
            run_tidy(root, load_default_rules())
    finally:
        running.release()
    assert run_tidy(root, load_default_rules(), dry_run=True).plan.moves


def test_interrupted_tidy_blocks_the_next_tidy(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "a"})
    state = StateDir(root)
    state.ensure()
    j = Journal.create(state.next_journal_path(), {"dirs": {}})
    j.close()  # no "end" record: looks like a crash
    with pytest.raises(StateError, match="was interrupted"):
        check_resumable(state)
    with pytest.raises(StateError, match="organizer undo"):
        run_tidy(root, load_default_rules())
    with pytest.raises(StateError):
        run_tidy(root, load_default_rules(), dry_run=True)
    assert (root / "plot_a.py").exists()


def test_unfinished_undo_blocks_the_next_tidy(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "a"})
    run_tidy(root, load_default_rules())
    path = _journal(root)
    with path.open("a") as f:
        f.write('{"t":"undo-begin"}\n')
    with pytest.raises(StateError, match="undo .* did not finish"):
        run_tidy(root, load_default_rules())


def test_journals_are_numbered_in_order(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    state = StateDir(root)
    state.ensure()
    for _ in range(3):
        Journal.create(state.next_journal_path(), {}).close()
    assert [p.name for p in state.journals()] == ["000001.jsonl", "000002.jsonl", "000003.jsonl"]
    with pytest.raises(FileExistsError):
        Journal.create(state.journals()[0], {})


def test_nothing_to_plan_leaves_no_state_behind(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"notes.txt": "n"})
    result = run_tidy(root, load_default_rules())
    assert result.journal is None and result.done == []
    assert not (root / ".organizer").exists()


def test_unwritable_state_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "a"})
    real_mkdir = os.mkdir

    def denied(path, *args, **kwargs):
        if str(path).endswith(".organizer"):
            raise PermissionError(13, "Permission denied")
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", denied)
    with pytest.raises(StateError, match="cannot write the journal .* Permission denied; nothing was moved"):
        run_tidy(root, load_default_rules())
    assert (root / "plot_a.py").exists()
