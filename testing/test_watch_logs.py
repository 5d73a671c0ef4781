"""Logs grow while training (issue 21, item 7), as a user watches them: `run_all.py --watch` on a run
writing a JSON Lines log and a Lightning CSV log; each append updates metrics.csv and the run's curves
soon after the write, read from where the last read stopped."""
from __future__ import annotations

import json
import time

import pandas as pd

from test_watch import Watcher
from testing_helpers import REPO  # noqa: F401  (the repository root the watcher runs from)


def _args_for(base):
    return ["--data", str(base / "runs"), "--out", str(base / "out"), "--only", "metrics_csv", "overview",
            "-q"]


class LogWatcher(Watcher):
    def __init__(self, base):
        import test_watch
        saved = test_watch._args
        test_watch._args = _args_for
        try:
            super().__init__(base)
        finally:
            test_watch._args = saved


def _table(base):
    try:
        return pd.read_csv(base / "out" / "tables" / "metrics.csv")
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame(columns=["experiment", "condition", "step", "metric", "value"])


def test_appended_logs_update_the_tables_and_curves(tmp_path):
    run = tmp_path / "runs" / "gpt"
    run.mkdir(parents=True)
    log = run / "log.jsonl"
    log.write_text("".join(json.dumps({"step": s, "loss": 2.0 - s / 1000, "val_loss": 2.1 - s / 1000}) + "\n"
                           for s in range(0, 1000, 10)))
    csv_log = tmp_path / "runs" / "bert" / "lightning_logs" / "version_0" / "metrics.csv"
    csv_log.parent.mkdir(parents=True)
    csv_log.write_text("epoch,step,train_loss,val_loss\n0,49,0.9,\n0,49,,0.95\n")
    w = LogWatcher(tmp_path)
    try:
        assert w.wait_for(lambda: (tmp_path / "out" / "tables" / "metrics.csv").exists())
        figure = tmp_path / "out" / "overview" / "runs_1.png"
        assert w.wait_for(figure.exists), w.log
        before = figure.stat().st_mtime_ns
        with open(log, "a") as fh:
            fh.write(json.dumps({"step": 1000, "loss": 0.5, "val_loss": 0.6}) + "\n")
        written = time.monotonic()
        assert w.wait_for(lambda: 1000 in set(_table(tmp_path)["step"])), w.log
        table_latency = time.monotonic() - written
        assert w.wait_for(lambda: figure.stat().st_mtime_ns != before), w.log
        figure_latency = time.monotonic() - written
        with open(csv_log, "a") as fh:
            fh.write("1,99,0.7,\n1,99,,0.75\n")
        assert w.wait_for(lambda: 99 in set(_table(tmp_path)["step"])), w.log
        table = _table(tmp_path).set_index(["experiment", "condition", "metric", "step"])["value"]
        assert table[("gpt", "eval", "loss", 1000)] == 0.6 and table[("bert/version_0", "eval", "loss", 99)] == 0.75
        assert len(table) == 2 * 101 + 4
        # the watch targets (tables <= 1 s, figures <= 2.5 s) with room for a loaded CI machine
        print(f"latency: table {table_latency:.2f} s, figure {figure_latency:.2f} s")
        assert table_latency < 2.5 and figure_latency < 5.0, (table_latency, figure_latency)
    finally:
        assert w.stop() == 0
