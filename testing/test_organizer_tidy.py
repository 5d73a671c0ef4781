"""Running a tidy: idempotency, races with other writers, crashes and kills mid-tidy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from organizer import load_default_rules, plan_tidy, run_tidy
from organizer import tidy as tidy_mod
from organizer_helpers import REPO_ROOT, Link, make_tree, run_module, snapshot


def seed(root: Path, n_extra: int = 0) -> Path:
    spec = {
        "plot_ft1_heatmap.py": "import matplotlib\nplt.savefig('ft1_performance_heatmap.png')\n",
        "ft1_performance_heatmap.png": b"\x89PNG heat",
        "test_gradient_flow.py": "def test_flow(): pass\n",
        "analyze_atlantis_in_training.py": "print('atlantis')\n",
        "remove_id_directions.py": "pass\n",
        "generate_exp4_cka_configs.py": "pass\n",
        "atlantis_metrics.csv": "a,b\n1,2\n",
        "read only atlantis.csv": "ro\n",
        "ünïcødé_helpers.py": "pass\n",
        "link_to_csv.csv": Link("atlantis_metrics.csv"),
        "dangling_plot.png": Link("gone.png"),
        "notes.txt": "stay\n",
        "plots/plot_ft1_heatmap.py": "an older, different version\n",
    }
    for i in range(n_extra):
        spec[f"test_extra_{i:03d}.py"] = f"def test_{i}(): pass\n"
    make_tree(root, spec)
    os.chmod(root / "read only atlantis.csv", 0o444)
    for i, p in enumerate(sorted(root.rglob("*"))):
        os.utime(p, ns=(10**18 + i, 10**18 + i), follow_symlinks=False)
    return root


def test_tidy_moves_everything_planned_and_is_idempotent(tmp_path: Path) -> None:
    root = seed(tmp_path / "s")
    rules = load_default_rules()
    planned = plan_tidy(root, rules).moves
    result = run_tidy(root, rules)
    assert result.ok and result.done == planned
    for m in result.done:
        assert not os.path.lexists(root / m.source)
        assert os.path.lexists(root / m.destination)
    assert (root / "plots/plot_ft1_heatmap (2).py").read_text().startswith("import matplotlib")
    assert (root / "plots/plot_ft1_heatmap.py").read_text() == "an older, different version\n"
    assert os.readlink(root / "plots/dangling_plot.png") == "gone.png"
    second = run_tidy(root, rules)
    assert second.done == [] and second.plan.moves == [] and second.journal is None
    assert len(list((root / ".organizer/journal").iterdir())) == 1


def test_destination_taken_after_planning_is_not_overwritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = seed(tmp_path / "s")
    real_plan = tidy_mod.plan_tidy

    def racing_plan(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        # Another process writes a file at a planned destination right after planning.
        (root / "testing").mkdir()
        (root / "testing/test_gradient_flow.py").write_text("written by someone else")
        (root / "notes_gone.txt").write_text("")
        os.unlink(root / "atlantis_metrics.csv")  # and a source vanishes
        return plan

    monkeypatch.setattr(tidy_mod, "plan_tidy", racing_plan)
    result = run_tidy(root, load_default_rules())
    failed = dict(result.failed)
    assert "already exists; not overwriting" in failed["test_gradient_flow.py"]
    assert "vanished" in failed["atlantis_metrics.csv"]
    assert (root / "testing/test_gradient_flow.py").read_text() == "written by someone else"
    assert (root / "test_gradient_flow.py").read_text() == "def test_flow(): pass\n"
    assert len(result.done) == len(result.plan.moves) - 2


@pytest.mark.parametrize(("crash_after", "point"), [(1, "after-move"), (4, "after-move"), (9, "after-move"),
                                                    (1, "before-move"), (6, "before-move")])
def test_killed_tidy_is_fully_undone(tmp_path: Path, crash_after: int, point: str) -> None:
    root = seed(tmp_path / "s", n_extra=5)
    before = snapshot(root)
    env = {"ORGANIZER_TEST_CRASH_AFTER": str(crash_after), "ORGANIZER_TEST_CRASH_POINT": point}
    proc = run_module("tidy", str(root), cwd=tmp_path, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    moved = crash_after if point == "after-move" else crash_after - 1
    loose_before = {k for k in before if "/" not in k and k != "."}
    loose_now = {p.name for p in root.iterdir()}
    assert len(loose_before - loose_now) == moved
    # A crashed tidy blocks the next one until undone.
    again = run_module("tidy", str(root), cwd=tmp_path)
    assert again.returncode == 2 and "was interrupted" in again.stderr and "Traceback" not in again.stderr
    undo = run_module("undo", str(root), cwd=tmp_path)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert snapshot(root) == before


def test_externally_killed_tidy_is_fully_undone(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {f"test_{i:04d}.py": f"{i}" for i in range(1500)})
    before = snapshot(root)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "organizer", "tidy", str(root)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:
        # Watch the folder itself (journal records may be buffered): kill once moves have started.
        if sum(1 for e in os.scandir(root) if e.name.endswith(".py")) <= 1490:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # really killed mid-tidy, not finished
    remaining = len([p for p in root.iterdir() if p.name.endswith(".py")])
    assert 0 < remaining < 1500
    undo = run_module("undo", str(root), cwd=tmp_path)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert snapshot(root) == before


def test_interrupt_with_ctrl_c_leaves_an_undoable_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from organizer import run_undo
    from organizer.mover import Mover

    root = seed(tmp_path / "s")
    before = snapshot(root)
    real_move = Mover.move
    calls = {"n": 0}

    def interrupting_move(self, src, dst):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_move(self, src, dst)

    monkeypatch.setattr(Mover, "move", interrupting_move)
    with pytest.raises(KeyboardInterrupt):
        run_tidy(root, load_default_rules())
    monkeypatch.setattr(Mover, "move", real_move)
    assert run_undo(root).ok
    assert snapshot(root) == before


@pytest.mark.parametrize("crash_after", [1, 2])  # 1: moved, not yet re-pointed; 2: re-pointed too
def test_killed_tidy_with_a_re_pointed_link_is_fully_undone(tmp_path: Path, crash_after: int) -> None:
    root = make_tree(tmp_path / "s", {"runs/metrics.csv": "m\n", "atlantis_latest.csv": Link("runs/metrics.csv"),
                                      "atlantis_zz.py": "print(1)\n"})
    before = snapshot(root)
    env = {"ORGANIZER_TEST_CRASH_AFTER": str(crash_after), "ORGANIZER_TEST_CRASH_POINT": "after-move"}
    proc = run_module("tidy", str(root), cwd=tmp_path, env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    expected = "runs/metrics.csv" if crash_after == 1 else "../runs/metrics.csv"
    assert os.readlink(root / "analysis/atlantis_latest.csv") == expected
    undo = run_module("undo", str(root), cwd=tmp_path)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert snapshot(root) == before
