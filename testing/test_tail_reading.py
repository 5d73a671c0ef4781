"""Logs grow while training (issue 21, item 7): an append-only log (JSON Lines, a CSV logger) that
only grew since the last read is read from where that read stopped, not from its start; a log
rewritten in place is read whole again."""
import dataclasses
import json

import pandas as pd
import pytest

from utils.loading import ParseCache, load
from utils.readers import _READERS, all_readers


def _count_full_reads(monkeypatch, name):
    all_readers()
    info = _READERS[name]
    calls = []

    def counting(path, root, config):
        calls.append(path)
        return info.read(path, root, config)
    monkeypatch.setitem(_READERS, name, dataclasses.replace(info, read=counting))
    return calls


def _frame(result):
    return result.frame.sort_values(["condition", "metric", "step"], ignore_index=True)


def test_a_100000_line_log_is_read_from_where_it_stopped(tmp_path, config, monkeypatch):
    log = tmp_path / "run" / "log.jsonl"
    log.parent.mkdir()
    with open(log, "w") as fh:
        fh.write(json.dumps({"type": "config", "lr": 0.1}) + "\n")  # not a metric line
        for step in range(100_000):
            fh.write(json.dumps({"step": step, "loss": 1.0 / (step + 1), "val_acc": step / 1e5}) + "\n")
    calls = _count_full_reads(monkeypatch, "jsonl_log")
    cache = ParseCache()
    first = load(tmp_path, config, cache)
    assert len(first.frame) == 200_000 and calls == [log]
    size = log.stat().st_size
    tail = "".join(json.dumps({"step": s, "loss": 0.5, "val_acc": 0.99}) + "\n" for s in (99_999, 100_000, 100_001))
    with open(log, "a") as fh:
        fh.write(tail)
    second = load(tmp_path, config, cache)
    assert calls == [log]  # no second full read
    assert second.tailed == {str(log): (size, len(tail))}  # only the appended bytes
    assert second.parsed == [log]
    cold = load(tmp_path, config, ParseCache())
    pd.testing.assert_frame_equal(_frame(second), _frame(cold))
    got = second.frame.set_index(["condition", "metric", "step"])["value"]
    assert got[("train", "loss", 99_999)] == 0.5  # a step logged again keeps the later value
    assert got[("eval", "acc", 100_001)] == 0.99 and len(second.frame) == 200_004


def test_a_half_written_last_line_is_read_once_it_is_complete(tmp_path, config):
    log = tmp_path / "run" / "metrics.csv"
    log.parent.mkdir()
    log.write_text("epoch,step,train_loss,val_loss\n0,9,0.9,\n0,9,,0.8\n1,19,0.7,")  # last row being written
    cache = ParseCache()
    first = load(tmp_path, config, cache)
    assert len(first.frame) == 3
    with open(log, "a") as fh:
        fh.write("\n1,19,,0.6\n")
    second = load(tmp_path, config, cache)
    assert str(log) in second.tailed
    got = second.frame.set_index(["condition", "step"])["value"].to_dict()
    assert got == {("train", 9): 0.9, ("eval", 9): 0.8, ("train", 19): 0.7, ("eval", 19): 0.6}


def test_a_log_rewritten_in_place_is_read_whole(tmp_path, config, monkeypatch):
    log = tmp_path / "run" / "log.jsonl"
    log.parent.mkdir()
    log.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in range(5)))
    calls = _count_full_reads(monkeypatch, "jsonl_log")
    cache = ParseCache()
    load(tmp_path, config, cache)
    log.write_text("".join(json.dumps({"step": s, "loss": 2.0}) + "\n" for s in range(8)))  # a restart from 0
    second = load(tmp_path, config, cache)
    assert len(calls) == 2 and not second.tailed
    assert set(second.frame["value"]) == {2.0} and len(second.frame) == 8


@pytest.mark.parametrize("name", ["lightning", "keras", "ultralytics", "ray_tune", "jsonl_log"])
def test_the_append_only_readers_read_tails(name):
    assert all_readers()[name].tail is not None
