"""Logs grow while training (issue 21, item 7): an append-only log (JSON Lines, a CSV logger, a TensorBoard
event file) that only grew since the last read is read from where that read stopped (the end of its last
complete line; of an event file, its last complete record), not from its start; a log rewritten in place
is read whole again."""
import dataclasses
import json

import pandas as pd
import pytest

from readers_helpers import real
from utils.loading import ParseCache, load
from utils.readers import _READERS, all_readers


def _count_full_reads(monkeypatch, name):
    all_readers()
    info = _READERS[name]
    calls = []

    def counted(fn):
        def counting(path, root, config):
            calls.append(path)
            return fn(path, root, config)
        return counting
    # a full read is the reader's `read` or, where it has one, its `columns` hook (what the loader calls)
    monkeypatch.setitem(_READERS, name, dataclasses.replace(
        info, read=counted(info.read), columns=counted(info.columns) if info.columns else None))
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


@pytest.mark.parametrize("name", ["lightning", "keras", "ultralytics", "ray_tune", "jsonl_log", "tensorboard"])
def test_the_append_only_readers_read_tails(name):
    assert all_readers()[name].tail is not None


FINANCE = (
    "tensorboard_runs/finance-llm/runs/Sep04_00-37-02_82e4ef84eb61/events.out.tfevents.1725410994.82e4ef84eb61.1712.0")


def _event(step, **scalars):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    values = [summary_pb2.Summary.Value(tag=tag.replace("__", "/"), simple_value=v) for tag, v in scalars.items()]
    return event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary_pb2.Summary(value=values))


def _append(path, events):
    """Append events as the tensorboard package's own writer frames them; the bytes written."""
    from tensorboard.summary.writer.record_writer import RecordWriter
    before = path.stat().st_size if path.exists() else 0
    with open(path, "ab") as fh:
        writer = RecordWriter(fh)
        for event in events:
            writer.write(event.SerializeToString())
    return path.stat().st_size - before


def test_a_grown_event_file_is_read_from_the_end_of_its_last_complete_record(tmp_path, config, monkeypatch):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    from tensorboard.compat.proto import event_pb2
    path = tmp_path / "out" / "bert" / "runs" / "Mar24_host" / "events.out.tfevents.1.host"
    path.parent.mkdir(parents=True)
    _append(path, [event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")])
    _append(path, [_event(s, train__loss=1 / s, train__grad_norm=2.0, train__learning_rate=1e-4 * s)
                   for s in range(1, 3001)])
    _append(path, [_event(s, eval__loss=2 / s, eval__accuracy=s / 3000) for s in range(100, 3001, 100)])
    calls = _count_full_reads(monkeypatch, "tensorboard")
    cache = ParseCache()
    first = load(tmp_path, config, cache)
    assert len(first.frame) == 3 * 3000 + 2 * 30 and calls == [path] and not first.tailed
    size = path.stat().st_size
    added = _append(path, [_event(s, train__loss=0.5, train__grad_norm=1.0, train__learning_rate=0.3)
                           for s in range(3000, 3011)])  # step 3000 logged again: the later value is kept
    whole = len(path.read_bytes())
    record = _record(_event(3011, train__loss=0.25).SerializeToString())
    with open(path, "ab") as fh:
        fh.write(record[:len(record) // 2])  # a record being written: only its first half is on disk
    second = load(tmp_path, config, cache)
    assert calls == [path]  # not read whole again
    assert second.tailed == {str(path): (size, added + len(record) // 2)}  # only the appended bytes
    assert second.parsed == [path] and not second.problems
    got = second.frame.set_index(["condition", "metric", "step"])["value"]
    assert got[("train", "loss", 3000)] == 0.5 and got[("train", "learning_rate", 3010)] == pytest.approx(0.3)
    assert ("train", "loss", 3011) not in got.index and len(second.frame) == 3 * 3010 + 2 * 30
    pd.testing.assert_frame_equal(_frame(second), _frame(load(tmp_path, config, ParseCache())))  # a whole read
    with open(path, "ab") as fh:
        fh.write(record[len(record) // 2:])  # the record complete: read on from the end of the last whole one
    third = load(tmp_path, config, cache)
    assert len(calls) == 2 and third.tailed == {str(path): (whole, len(record))}
    assert third.frame.set_index(["condition", "metric", "step"])["value"][("train", "loss", 3011)] == 0.25
    pd.testing.assert_frame_equal(_frame(third), _frame(load(tmp_path, config, ParseCache())))


def _record(data):
    import io

    from tensorboard.summary.writer.record_writer import RecordWriter
    buf = io.BytesIO()
    RecordWriter(buf).write(data)
    return buf.getvalue()


def test_a_real_event_file_read_in_two_parts_gives_its_records_once(tmp_path, config, monkeypatch):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    from utils.readers.tensorboard import record_end
    data = real(FINANCE).read_bytes()
    path = tmp_path / "finance-llm" / "runs" / "Sep04" / "events.out.tfevents.1725410994.82e4ef84eb61.1712.0"
    path.parent.mkdir(parents=True)
    with open(real(FINANCE), "rb") as fh:
        half = record_end(fh, len(data) // 2)
        assert record_end(fh, len(data)) == len(data)  # the real file ends with a whole record
    path.write_bytes(data[:half])
    calls = _count_full_reads(monkeypatch, "tensorboard")
    cache = ParseCache()
    first = load(tmp_path, config, cache)
    path.write_bytes(data)
    second = load(tmp_path, config, cache)
    assert calls == [path] and second.tailed == {str(path): (half, len(data) - half)}
    cold = load(tmp_path, config, ParseCache())
    assert len(cold.frame) == 31 and len(first.frame) < 31
    assert cold.frame["wall_time"].notna().all()  # every event's own time, in both parts
    pd.testing.assert_frame_equal(_frame(second), _frame(cold))


def test_an_event_file_rewritten_in_place_is_read_whole(tmp_path, config, monkeypatch):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.parent.mkdir()
    _append(path, [_event(s, train__loss=1.0) for s in range(1, 6)])
    calls = _count_full_reads(monkeypatch, "tensorboard")
    cache = ParseCache()
    load(tmp_path, config, cache)
    path.unlink()
    _append(path, [_event(s, train__loss=2.0) for s in range(1, 9)])  # a restart into the same name
    second = load(tmp_path, config, cache)
    assert len(calls) == 2 and not second.tailed
    assert set(second.frame["value"]) == {2.0} and len(second.frame) == 8


T0 = 1_714_000_000.0


def _grow_jsonl(path, steps, t0):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write("".join(json.dumps({"step": s, "loss": t0 / s, "timestamp": t0 + s}) + "\n" for s in steps))


def _grow_events(path, steps, t0):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    path.parent.mkdir(parents=True, exist_ok=True)
    _append(path, [event_pb2.Event(step=s, wall_time=t0 + s, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="train/loss", simple_value=t0 / s / 1e9)])) for s in steps])


@pytest.mark.parametrize("name, rel, grow", [("jsonl_log", "run/log.jsonl", _grow_jsonl),
                                             ("tensorboard", "run/events.out.tfevents.1.host", _grow_events)])
def test_a_grown_log_read_by_its_tail_keeps_wall_times(tmp_path, config, monkeypatch, name, rel, grow):
    if name == "tensorboard":
        pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    path = tmp_path / rel
    grow(path, range(1, 51), T0)
    calls = _count_full_reads(monkeypatch, name)
    cache = ParseCache()
    load(tmp_path, config, cache)
    grow(path, range(50, 61), T0 + 1000)  # step 50 logged again (a restart): the later value and time
    second = load(tmp_path, config, cache)
    assert calls == [path] and str(path) in second.tailed  # read by its tail
    walls = second.frame.set_index("step")["wall_time"]
    assert walls[1] == T0 + 1 and walls[49] == T0 + 49  # the cached part keeps its times
    assert walls[50] == T0 + 1050 and walls[60] == T0 + 1060 and len(walls) == 60
    pd.testing.assert_frame_equal(_frame(second), _frame(load(tmp_path, config, ParseCache())))
