"""``organizer watch``: files dropped in one by one are placed, undo reverts them, a file moved back stays.

Waits are bounded polls of the file system (never assertions about speed); the quiet period is short.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from organizer import load_default_rules, run_undo
from organizer.watch import WatchStats, watch_folder
from organizer_helpers import REPO_ROOT, make_tree

QUIET = 0.3
TIMEOUT = 20.0


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Watcher:
    """``watch_folder`` in a thread, stopped (cleanly) at the end of the test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stop = threading.Event()
        self.lines: list[str] = []
        self.stats: WatchStats | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.stats = watch_folder(self.root, load_default_rules(), quiet=QUIET, stop=self.stop,
                                  report=self.lines.append, on_ready=self.started.set)

    def __enter__(self) -> "Watcher":
        self.thread.start()
        assert self.started.wait(TIMEOUT)  # the observer listens
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=TIMEOUT)
        assert not self.thread.is_alive()


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "scratch", {"notes.txt": "already here\n", "plot_old.py": "print(1)\n"})


def test_files_dropped_one_by_one_are_placed_and_undo_reverts_them(root: Path) -> None:
    with Watcher(root) as w:
        (root / "plot_losses.py").write_text("open('losses.png', 'wb')\n")
        assert wait_for(lambda: (root / "plots/plot_losses.py").exists())
        (root / "test_losses.py").write_text("def test_x():\n    pass\n")
        assert wait_for(lambda: (root / "testing/test_losses.py").exists())
        (root / "losses.png").write_bytes(b"\x89PNG")  # joins the script that writes it, already filed
        assert wait_for(lambda: (root / "plots/losses.png").exists())
    assert w.stats is not None and sorted(w.stats.placed) == [
        ("losses.png", "plots/losses.png"), ("plot_losses.py", "plots/plot_losses.py"),
        ("test_losses.py", "testing/test_losses.py")]
    # The files that were there before watching started are not touched.
    assert (root / "notes.txt").exists() and (root / "plot_old.py").exists()
    assert any(line.startswith("placed: losses.png -> plots/losses.png (figures; written by plots/plot_losses.py)")
               for line in w.lines), w.lines
    # Each placement is one tidy with its journal: undo reverts them, newest first.
    for _ in range(w.stats.tidies):
        assert run_undo(root).ok
    assert sorted(os.listdir(root)) == ["losses.png", "notes.txt", "plot_losses.py", "plot_old.py", "test_losses.py"]


def test_a_file_moved_back_by_hand_is_left_alone_from_then_on(root: Path) -> None:
    with Watcher(root) as w:
        (root / "plot_accuracy.py").write_text("print('acc')\n")
        assert wait_for(lambda: (root / "plots/plot_accuracy.py").exists())
        os.rename(root / "plots/plot_accuracy.py", root / "plot_accuracy.py")  # "no, I want it here"
        assert wait_for(lambda: any("left alone: plot_accuracy.py" in line for line in w.lines)), w.lines
        (root / "plot_other.py").write_text("print('other')\n")  # the watcher is still working
        assert wait_for(lambda: (root / "plots/plot_other.py").exists())
        os.utime(root / "plot_accuracy.py")  # touched again later: still left alone
        time.sleep(QUIET * 4)
    assert (root / "plot_accuracy.py").exists() and not (root / "plots/plot_accuracy.py").exists()
    # Remembered in the journal: a new watch leaves it alone too.
    journals = sorted((root / ".organizer/journal").iterdir())
    assert any('"t":"left-alone","path":"plot_accuracy.py"' in j.read_text() for j in journals)
    with Watcher(root) as w2:
        os.utime(root / "plot_accuracy.py")
        (root / "plot_third.py").write_text("print(3)\n")
        assert wait_for(lambda: (root / "plots/plot_third.py").exists())
    assert (root / "plot_accuracy.py").exists()
    assert w2.stats is not None and [s for s, _ in w2.stats.placed] == ["plot_third.py"]


def test_a_file_still_being_written_waits_until_it_is_quiet(root: Path) -> None:
    with Watcher(root):
        path = root / "plot_slow.py"
        with open(path, "w") as f:
            for i in range(4):
                f.write(f"print({i})\n")
                f.flush()
                time.sleep(QUIET / 3)
                assert path.exists()  # not moved while it is being written
        assert wait_for(lambda: (root / "plots/plot_slow.py").exists())
    assert (root / "plots/plot_slow.py").read_text().count("print") == 4


def test_cli_watch_stops_cleanly_on_ctrl_c(root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "organizer", "watch", str(root), "--quiet", str(QUIET)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("watching ")
        (root / "test_cli.py").write_text("def test_x():\n    pass\n")
        assert wait_for(lambda: (root / "testing/test_cli.py").exists())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "placed: test_cli.py -> testing/test_cli.py" in out
    assert "stopped watching" in out and "placed 1 in 1 tidies" in out and "Traceback" not in err
