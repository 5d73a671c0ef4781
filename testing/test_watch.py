"""`run_all.py --watch` as a user runs it: a subprocess watching a tmp tree, real file events.

Each test copies a pre-rendered small tree and output folder (so the watcher starts up to date),
changes files the way training jobs and sweeps do, waits (polling, 15 s at most) for the rebuild,
and checks what was redrawn and what was not (manifest `drawn` stamps and file mtimes).
"""
from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from testing_helpers import REPO
from utils.errors import UserError
from utils.synthetic import write_tree
from runner.watch import make_observer

PNG = b"\x89PNG\r\n\x1a\n"
TARGET = "pt1_ft1-1/evals/atlantis_angle/eval_data/evaluation_results.json"
FIGURES = ["comparison/ft1_standard.png", "comparison/ft1_atlantis.png",
           "comparison/ft2_standard.png", "comparison/ft2_atlantis.png"]
TIMEOUT = 15.0


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A small tree, rules (dpi 40) and its outputs, rendered once for the whole module."""
    base = tmp_path_factory.mktemp("watch_template")
    write_tree(base / "exp", seeds=1, ft1=2, ft2=2, checkpoints=3)
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw["plots"] = {"modules": [], "format": "png", "dpi": 40}
    (base / "rules.yaml").write_text(yaml.safe_dump(raw))
    done = subprocess.run([sys.executable, "run_all.py", *_args(base), "--jobs", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return base


def _args(base: Path) -> list[str]:
    return ["--config", str(base / "rules.yaml"), "--data", str(base / "exp"), "--out", str(base / "out"),
            "--only", "comparison", "scores_csv", "-q"]


class Watcher:
    """A `run_all.py --watch` subprocess whose log lines are collected as they come."""

    def __init__(self, base: Path, *extra: str, wait: bool = True) -> None:
        self.base = base
        self.lines: list[str] = []
        self.times: list[float] = []  # time.monotonic() each line arrived
        self.proc = subprocess.Popen([sys.executable, "run_all.py", "--watch", *_args(base), "--jobs", "1",
                                      *extra], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait:
            assert self.wait_for(lambda: any("watching " in line for line in self.lines)), self.log

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.times.append(time.monotonic())
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, condition, timeout: float = TIMEOUT) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch the last lines
                return condition()
            time.sleep(0.05)
        return condition()

    def rebuilds(self) -> list[str]:
        return [line for line in self.lines if "] rebuild: " in line]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=2)
        return code


@pytest.fixture
def watched(template, tmp_path):
    """(base folder, start watcher) on a private copy of the template; watchers stopped at the end."""
    shutil.copytree(template, tmp_path / "w")
    started: list[Watcher] = []

    def start(*extra: str, wait: bool = True) -> Watcher:
        w = Watcher(tmp_path / "w", *extra, wait=wait)
        started.append(w)
        return w

    yield tmp_path / "w", start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait()


def drawn(base: Path) -> dict[str, tuple[str, int]]:
    """Output -> (manifest drawn stamp, file mtime) for the figures and the scores table."""
    outputs = json.loads((base / "out" / ".cache" / "manifest.json").read_text())["outputs"]
    return {rel: (outputs[rel]["drawn"], (base / "out" / rel).stat().st_mtime_ns)
            for rel in FIGURES + ["tables/scores.csv"]}


def scaled_text(text: str, factor: float) -> str:
    """Evaluation JSON with the last checkpoint's reported angle error scaled by `factor`."""
    data = json.loads(text)
    data[list(data)[-1]]["eval_angle_metric_mean"] *= factor
    return json.dumps(data, indent=1)


def scaled(path: Path, factor: float = 0.25) -> str:
    return scaled_text(path.read_text(), factor)


def score_value(base: Path, experiment: str, condition: str, task: str) -> str:
    with open(base / "out" / "tables" / "scores.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh)
                if (r["run"], r["condition"], r["task"]) == (experiment, condition, task)]
    assert len(rows) == 1
    return rows[0]["value"]


def target_score(base: Path) -> float | None:
    """The scores table's value for the file the tests change (None: missing)."""
    value = score_value(base, "pt1_ft1-1", "atlantis", "angle")
    return float(value) if value else None


def _new_file(path: Path, text: str) -> None:
    path.write_text(text)


def _atomic_rename(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _slow_writer(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text[: len(text) // 2])
        fh.flush()
        time.sleep(0.8)  # longer than the debounce: the watcher sees half a file
        fh.write(text[len(text) // 2:])


def changed_since(base: Path, before: dict) -> set[str]:
    after = drawn(base)
    return {rel for rel in before if after[rel] != before[rel]}


def expected_value(text: str) -> float:
    data = json.loads(text)
    return data[list(data)[-1]]["eval_angle_metric_mean"]


def test_new_renamed_rewritten_and_deleted_files_redraw_only_the_figures_using_them(watched):
    """One watcher, the ways a file lands: each step redraws ft1's OOD figure and the scores only."""
    base, start = watched
    target = base / "exp" / TARGET
    original = target.read_text()
    target.unlink()
    w = start()
    assert "inotify observer" in w.log
    steps = [("new file", _new_file, 0.5), ("atomic rename", _atomic_rename, 0.25),
             ("slow in-place writer", _slow_writer, 0.125), ("deleted", None, None)]
    for how, write, factor in steps:
        before = drawn(base)
        n = len(w.rebuilds())
        if write is None:
            target.unlink()
        else:
            text = scaled_text(original, factor)
            write(target, text)
        want = None if write is None else expected_value(text)
        assert w.wait_for(lambda: target_score(base) == want), (how, w.log)
        assert w.wait_for(lambda: any(TARGET in line for line in w.rebuilds()[n:])), (how, w.log)
        time.sleep(0.4)  # no late second rebuild for the same write
        assert changed_since(base, before) == {"comparison/ft1_atlantis.png", "tables/scores.csv"}, (how, w.log)
        assert (base / "out" / "comparison" / "ft1_atlantis.png").read_bytes()[:8] == PNG
    assert "deleted (" + TARGET in w.rebuilds()[-1]
    assert "unreadable" not in w.log  # the half-written file was waited for, not reported
    assert not list((base / "out").rglob("*.tmp"))
    assert w.stop() == 0


def test_polling_observer_for_network_file_systems(watched):
    base, start = watched
    target = base / "exp" / TARGET
    text = scaled_text(target.read_text(), 0.5)
    target.unlink()
    w = start("--poll", "0.3")
    assert "polling observer, every 0.3s" in w.log
    before = drawn(base)
    n = len(w.rebuilds())
    _new_file(target, text)
    assert w.wait_for(lambda: target_score(base) == expected_value(text)), w.log
    assert w.wait_for(lambda: any(TARGET in line for line in w.rebuilds()[n:])), w.log
    assert changed_since(base, before) == {"comparison/ft1_atlantis.png", "tables/scores.csv"}
    assert w.stop() == 0


def test_a_burst_of_200_files_is_one_or_a_few_rebuilds(watched, tmp_path):
    base, start = watched
    staging = tmp_path / "staging"
    write_tree(staging, seeds=1, ft1=0, ft2=17, checkpoints=3, seed=7)
    new = sorted(p for p in staging.rglob("*.json")
                 if p.relative_to(staging).parts[0] not in ("pt1", "pt1_ft2-1", "pt1_ft2-2"))
    assert len(new) == 15 * 14
    w = start()
    before = drawn(base)
    n = len(w.rebuilds())
    for src in new:  # a sweep landing: ~200 files in well under a second or two
        dst = base / "exp" / src.relative_to(staging)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)

    def all_in() -> bool:
        with open(base / "out" / "tables" / "scores.csv", newline="") as fh:
            return sum(r["run"] == "pt1_ft2-17" and r["value"] != "" for r in csv.DictReader(fh)) == 14

    def files_in_rebuilds() -> int:
        return sum(int(line.split(" file(s) new")[0].split()[-1]) for line in w.rebuilds()[n:]
                   if " file(s) new" in line)

    assert w.wait_for(all_in), w.log
    assert w.wait_for(lambda: files_in_rebuilds() == len(new)), w.log
    time.sleep(1.0)
    rebuilds = w.rebuilds()[n:]
    assert 1 <= len(rebuilds) <= 3, "\n".join(rebuilds)
    assert changed_since(base, before) == {
        "comparison/ft2_standard.png", "comparison/ft2_atlantis.png", "tables/scores.csv"}
    assert w.proc.poll() is None and w.stop() == 0


def test_a_malformed_file_is_reported_once_and_the_watcher_carries_on(watched):
    base, start = watched
    w = start()
    before = drawn(base)
    _atomic_rename(base / "exp" / TARGET, '{"checkpoint-1000": {"eval_angle_metric_mean": 1.0,')
    reported = lambda: [line for line in w.lines if "skipped unreadable file:" in line]  # noqa: E731
    assert w.wait_for(lambda: len(reported()) == 1), w.log
    assert TARGET in reported()[0] and "not valid JSON" in reported()[0]
    # its numbers are gone from ft1's OOD figure (drawn as missing), nothing else changed
    assert changed_since(base, before) == {"comparison/ft1_atlantis.png", "tables/scores.csv"}
    assert target_score(base) is None
    # the next change is handled as usual and the malformed file is not reported again
    other = base / "exp" / "pt1_ft2-1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
    n = len(w.rebuilds())
    _atomic_rename(other, scaled(other))
    assert w.wait_for(lambda: any("pt1_ft2-1/evals/angle" in line for line in w.rebuilds()[n:])), w.log
    time.sleep(0.3)
    assert len(reported()) == 1 and w.proc.poll() is None
    assert w.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_watch_after_the_outputs_in_hand(watched, sig):
    base, start = watched
    w = start()
    target = base / "exp" / TARGET
    _atomic_rename(target, scaled(target))
    assert w.wait_for(lambda: w.proc.poll() is None and len(w.lines) > 0)
    time.sleep(0.4)  # the rebuild is likely under way
    t0 = time.monotonic()
    assert w.stop(sig, timeout=10) == 0
    assert time.monotonic() - t0 < 10
    assert "stopped" in w.lines[-1]
    assert not list((base / "out").rglob("*.tmp"))  # nothing half-written
    for rel in FIGURES:
        assert (base / "out" / rel).read_bytes()[:8] == PNG


@pytest.mark.parametrize("code, word", [(errno.ENOSPC, "watches"), (errno.EMFILE, "instances")])
def test_exhausted_inotify_suggests_polling(tmp_path, code, word):
    class Exhausted:
        def __init__(self, **kwargs):
            pass

        def schedule(self, *args, **kwargs):
            pass

        def start(self):
            raise OSError(code, os.strerror(code))

    with pytest.raises(UserError) as exc:
        make_observer(tmp_path, handler=None, poll=None, factory=Exhausted)
    message = str(exc.value)
    assert str(tmp_path) in message and "--poll" in message and f"inotify {word}" in message


SLOW_MODULE = """
import time

import matplotlib.pyplot as plt

from plots.registry import figure


@figure("slow", needs="scores", per=(), description="Takes {seconds} s to draw: a long build.")
def draw(data, ctx):
    time.sleep({seconds})
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(range(len(data)))
    return fig
"""


def slow_build(base: Path, seconds: float) -> list[str]:
    """Watcher flags adding a figure that takes `seconds` to draw whenever the scores change."""
    (base / "slow.py").write_text(SLOW_MODULE.format(seconds=seconds))
    raw = yaml.safe_load((base / "rules.yaml").read_text())
    raw["plots"]["modules"] = ["slow.py"]
    (base / "rules_slow.yaml").write_text(yaml.safe_dump(raw))
    return ["--config", str(base / "rules_slow.yaml"), "--only", "comparison", "scores_csv", "slow"]


def test_evaluations_written_during_the_first_build_reach_scores_csv(watched):
    """The observer starts before the initial scan: what lands while the first build draws is rebuilt."""
    base, start = watched
    flags = slow_build(base, 3.0)
    scores = base / "out" / "tables" / "scores.csv"
    before = scores.stat().st_mtime_ns
    w = start(*flags, "--force", wait=False)
    assert w.wait_for(lambda: scores.stat().st_mtime_ns != before, timeout=30), w.log  # tables come first
    target = base / "exp" / TARGET
    other = base / "exp" / "pt1_ft2-1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
    texts = {target: scaled(target, 0.5), other: scaled(other, 0.25)}
    for path, text in texts.items():  # one renamed into place, one written in place
        (_atomic_rename if path == target else _new_file)(path, text)
    assert not any("initial run" in line for line in w.lines), w.log  # still drawing the first build
    assert w.wait_for(lambda: target_score(base) == expected_value(texts[target])
                      and float(score_value(base, "pt1_ft2-1", "standard", "angle")) == expected_value(texts[other]),
                      timeout=30), w.log
    assert "unreadable" not in w.log
    assert w.stop() == 0


def test_a_slowly_written_file_is_not_reported_once_complete(watched):
    """Half a file, the rest 3 s later while the rebuild that read the half is still drawing: never
    called unreadable after it was complete, and its numbers arrive."""
    base, start = watched
    w = start(*slow_build(base, 2.5))
    target = base / "exp" / TARGET
    text = scaled(target, 0.5)
    with open(target, "w") as fh:
        fh.write(text[: len(text) // 2])
        fh.flush()
        time.sleep(3.0)  # longer than SETTLE: the watcher gives up waiting and rebuilds without it
        fh.write(text[len(text) // 2:])
    complete = time.monotonic()
    assert w.wait_for(lambda: target_score(base) == expected_value(text), timeout=30), w.log
    time.sleep(0.5)
    late = [line for t, line in zip(w.times, w.lines) if t >= complete and "unreadable" in line]
    assert not late, w.log
    assert w.stop() == 0


def test_watching_an_empty_folder_waits_and_a_wrong_one_exits_2(template, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["--config", str(template / "rules.yaml"), "--out", str(tmp_path / "out"), "--only", "scores_csv",
            "--jobs", "1", "-q"]
    wrong = subprocess.run([sys.executable, "run_all.py", "--watch", "--data", str(template / "rules.yaml"), *args],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "is a file, not a folder" in wrong.stderr
    base = tmp_path / "b"
    base.mkdir()
    w = Watcher.__new__(Watcher)  # the same helper, on the empty folder
    w.base, w.lines, w.times = base, [], []
    w.proc = subprocess.Popen([sys.executable, "run_all.py", "--watch", "--data", str(empty), *args], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    w._reader = threading.Thread(target=w._read, daemon=True)
    w._reader.start()
    try:
        assert w.wait_for(lambda: any("watching " in line for line in w.lines)), w.log
        assert f"no evaluation files under {empty} yet; waiting for them" in w.log
        shutil.copytree(template / "exp" / "pt1", empty / "pt1")
        assert w.wait_for(lambda: (tmp_path / "out" / "tables" / "scores.csv").is_file()), w.log
        assert "pt1," in (tmp_path / "out" / "tables" / "scores.csv").read_text()
        assert w.stop() == 0
    finally:
        if w.proc.poll() is None:
            w.proc.kill()


def test_a_change_no_event_named_is_found_by_the_walk_after_a_quiet_spell(small_tree, tmp_path, capsys,
                                                                          monkeypatch):
    """A rebuild of the files its events named does not walk the tree; once quiet, one that does
    finds what no event named (a lost event), and is silent when there is nothing."""
    import runner.watch as watch_module
    from runner.pipeline import Pipeline
    from runner.report import Options
    from utils.config import load_config

    monkeypatch.setattr(watch_module, "VERIFY_AFTER", 0.3)
    options = Options(data=small_tree, out=tmp_path / "out", only=("scores_csv",), jobs=1, progress=False)
    pipeline = Pipeline(load_config(REPO / "rules.yaml"), options)
    session = watch_module._Session(pipeline)
    stop = threading.Event()
    try:
        assert session.rebuild(None, first=True).parsed == 70
        named, unnamed = (small_tree / t for t in (TARGET, TARGET.replace("atlantis_angle", "angle")))
        named.write_text(scaled(named))
        unnamed.write_text(scaled_text(unnamed.read_text(), 0.5))
        report = session.rebuild({str(named)})
        assert report.changed == [TARGET] and not pipeline.walked and session.verify_at is not None
        assert session.next_batch(stop) == set()  # the quiet spell: a walk is due
        found = session.rebuild(set())
        assert pipeline.walked and found.changed == [TARGET.replace("atlantis_angle", "angle")]
        assert session.verify_at is None
        capsys.readouterr()
        session.verify_at = time.time()
        assert session.rebuild(session.next_batch(stop)).fast and capsys.readouterr().err == ""
    finally:
        pipeline.close()
