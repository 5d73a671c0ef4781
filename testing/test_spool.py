"""Rows handed to a worker through a file (runner/spool.py): read back slice by slice they are the
rows written, a blocked table written from them is byte for byte the one written from the frame,
and the file is gone once its job is done."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import runner.pipeline as pipeline_module
import runner.render as render_module
import runner.spool as spool_module
from runner.blocks import LAYOUT, plan_blocks, write_blocks
from runner.planning import ViewCache
from runner.report import Options
from runner.spool import SpoolReader, read_spool, remove_stale, write_spool
from utils.config import load_config
from utils.csv_text import to_csv_text


def frame(n: int = 23) -> pd.DataFrame:
    """Every kind of column the tidy table holds: labels as categories, ints, floats with NaN,
    bools, plain strings."""
    experiments = [f"run-{i // 5}" for i in range(n)]
    return pd.DataFrame({
        "experiment": pd.Categorical(experiments, categories=sorted(set(experiments) | {"unused"})),
        "step": np.arange(n, dtype="int64") * 10,
        "value": np.where(np.arange(n) % 4 == 0, np.nan, np.linspace(0.1, 9.9, n)),
        "best": np.arange(n) % 3 == 0,
        "note": [f'say "x{i}", y' for i in range(n)],
    })


@pytest.mark.parametrize("slice_rows", [1, 4, 5, 100])
@pytest.mark.parametrize("index", ["range", "picked"])
def test_rows_read_forward_are_the_rows_written(slice_rows, index, tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "SLICE_ROWS", slice_rows)
    data = frame()
    if index == "picked":  # the uncached rows of a plan: positions of the whole table
        data = data.iloc[[0, 1, 2, 7, 8, 9, 10, 11, 20, 21, 22]]
    path = write_spool(data, tmp_path / "spool")
    with SpoolReader(path) as reader:
        assert reader.length == len(data)
        pd.testing.assert_frame_equal(reader.rows(0, 0), data.iloc[:0])
        for start, stop in [(0, 3), (3, 4), (4, 9), (9, len(data))]:
            pd.testing.assert_frame_equal(reader.rows(start, stop), data.iloc[start:stop], check_index_type=False)
            assert all(at + len(part) > start for at, part in reader._slices)  # nothing behind is kept


def test_an_empty_frame_reads_back_empty_with_its_dtypes(tmp_path):
    data = frame().iloc[:0]
    with SpoolReader(write_spool(data, tmp_path)) as reader:
        assert reader.length == 0
        assert list(reader.rows(0, 0).dtypes) == list(data.dtypes)


@pytest.mark.parametrize("batch", [3, 6, 100_000])
def test_a_blocked_table_from_a_spool_is_the_one_from_the_frame(batch, tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "SLICE_ROWS", 4)
    monkeypatch.setattr("runner.blocks._BATCH_ROWS", batch)
    data = frame()
    whole = to_csv_text(data)
    direct = plan_blocks(data, "experiment", tmp_path / "a.csv", tmp_path / "a", "salt")
    write_blocks(to_csv_text, direct, tmp_path / "a.csv", tmp_path / "a")
    assert (tmp_path / "a.csv").read_text() == whole
    blocks = plan_blocks(data, "experiment", tmp_path / "b.csv", tmp_path / "b", "salt")
    spooled = replace(blocks, rows=blocks.rows.iloc[:0], spool=write_spool(blocks.rows, tmp_path / "spool"))
    write_blocks(to_csv_text, spooled, tmp_path / "b.csv", tmp_path / "b")
    assert (tmp_path / "b.csv").read_text() == whole
    layouts = [json.loads((tmp_path / x / LAYOUT).read_text()) for x in "ab"]
    assert [(x["names"], x["offsets"]) for x in layouts] == [(layouts[0]["names"], layouts[0]["offsets"])] * 2


def test_a_table_that_is_not_a_concatenation_is_rendered_whole_from_the_spool(tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "SLICE_ROWS", 4)
    data = frame()
    counted = lambda rows: f"{len(rows)} rows\n"  # noqa: E731 - no block starts with the empty table's text
    blocks = plan_blocks(data, "experiment", tmp_path / "c.csv", tmp_path / "c", "salt")
    spooled = replace(blocks, rows=blocks.rows.iloc[:0], spool=write_spool(blocks.rows, tmp_path / "spool"))
    write_blocks(counted, spooled, tmp_path / "c.csv", tmp_path / "c")
    assert (tmp_path / "c.csv").read_text() == f"{len(data)} rows\n"


def test_only_jobs_with_many_rows_to_format_are_spooled(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module, "SPOOL_OVER", 10)
    data = frame()
    blocks = plan_blocks(data, "experiment", tmp_path / "t.csv", tmp_path / "cache", "salt")
    job = render_module.Job("metrics_csv", "tables/metrics.csv", {}, blocks.rows, "fp", "salt", None, blocks)
    sent = render_module.spooled(job, tmp_path / "spool")
    assert len(sent.data) == len(sent.blocks.rows) == 0 and sent.blocks.spool.is_file()
    with SpoolReader(sent.blocks.spool) as reader:
        pd.testing.assert_frame_equal(reader.rows(0, len(data)), data)
    small = plan_blocks(data.iloc[:10], "experiment", tmp_path / "t.csv", tmp_path / "cache", "salt")
    job = render_module.Job("metrics_csv", "tables/metrics.csv", {}, small.rows, "fp", "salt", None, small)
    assert render_module.spooled(job, tmp_path / "spool") is job


def test_only_a_dead_processs_spool_files_are_removed(tmp_path):
    folder = tmp_path / "spool"
    mine = write_spool(frame(), folder)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = folder / f"rows-{dead}-abc.spool"
    stale.write_bytes(b"left by a killed run")
    other = folder / "notes.txt"
    other.write_text("not ours")
    assert remove_stale(folder) == [stale]
    assert mine.is_file() and other.is_file() and not stale.exists()
    assert str(os.getpid()) in mine.name


def test_a_run_with_workers_sends_its_big_jobs_through_spools_and_removes_them(small_tree, tmp_path, monkeypatch):
    """Through the pool, every job of over 10 rows spooled: each output is the in-process run's,
    byte for byte (figures included), and no spool file is left."""
    monkeypatch.setattr(render_module, "SPOOL_OVER", 10)  # inherited by the forked workers
    written = []
    real = pipeline_module.spooled
    monkeypatch.setattr(pipeline_module, "spooled",
                        lambda job, folder: written.append(real(job, folder)) or written[-1])
    events = []  # (what, output): when each job went to the pool, and when every view was let go
    submit, release = pipeline_module.Pipeline._submit, ViewCache.release
    monkeypatch.setattr(pipeline_module.Pipeline, "_submit", lambda self, pool, job, sent, *rest: (
        events.append(("sent", self.registry[sent.spec_name].kind, sent.spooled_to is not None)),
        submit(self, pool, job, sent, *rest))[1])
    monkeypatch.setattr(ViewCache, "release", lambda self, keep: (
        events.append(("views let go", "", False)) if not keep else None, release(self, keep))[1])
    from plots.registry import discover
    ours = tuple(name for name, spec in discover().items() if spec.module.startswith("plots."))  # not other tests'
    outputs = {}
    for jobs in (1, 2):
        events.clear()
        out = tmp_path / f"out{jobs}"
        pipeline = pipeline_module.Pipeline(load_config(None), Options(data=small_tree, out=out, jobs=jobs,
                                                                       progress=False, only=ours))
        try:
            report = pipeline.run()
        finally:
            pipeline.close()
        assert report.rendered and not report.failed
        outputs[jobs] = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
                         if p.is_file() and ".cache" not in p.parts and p.name not in ("index.html", "gallery.js")}
    spools = [j.spooled_to for j in written if j.spooled_to is not None]
    kinds = {j.rel_path.split("/")[0] for j in written if j.spooled_to is not None}
    assert {"tables", "comparison", "checkpoints"} <= kinds  # tables in blocks and whole, figures
    assert spools and not any(p.exists() for p in spools)
    assert list((tmp_path / "out2" / ".cache" / "spool").iterdir()) == []
    assert outputs[1] == outputs[2] and len(outputs[1]) > 10
    # through the pool, a spooled figure waits until every view is let go; a spooled table does not
    # (metrics.csv goes while the later views are computed)
    last = max(i for i, e in enumerate(events) if e[0] == "views let go")
    sent = [(i, kind) for i, (what, kind, spool) in enumerate(events) if what == "sent" and spool]
    assert min(i for i, kind in sent if kind == "figure") > last
    assert any(i < last for i, kind in sent if kind == "table")


@pytest.mark.parametrize("slice_rows", [1, 7, 100])
@pytest.mark.parametrize("index", ["range", "picked"])
def test_a_whole_spool_reads_back_as_the_frame_written(slice_rows, index, tmp_path, monkeypatch):
    monkeypatch.setattr(spool_module, "SLICE_ROWS", slice_rows)
    data = frame().assign(count=pd.array([1, None] * 11 + [3], dtype="Int64"))  # an extension column too
    if index == "picked":
        data = data.iloc[[0, 1, 2, 7, 8, 9, 10, 11, 20, 21, 22]]
    read = read_spool(write_spool(data, tmp_path))
    pd.testing.assert_frame_equal(read, data)
    assert read["experiment"].cat.categories.tolist() == data["experiment"].cat.categories.tolist()


def test_a_figure_with_many_rows_is_drawn_from_its_spool(tmp_path, monkeypatch):
    """A figure job over `SPOOL_OVER` rows travels as a file; drawn, it is the in-process figure."""
    monkeypatch.setattr(render_module, "SPOOL_OVER", 10)
    data = frame()
    job = render_module.Job("x", "x.png", {}, data, "fp")
    sent = render_module.spooled(job, tmp_path / "spool")
    assert len(sent.data) == 0 and sent.spooled_to == sent.spool and sent.spool.is_file()
    seen = []
    spec = type("Spec", (), {"blocks_by": None, "kind": "table", "module": "m", "title": "t",
                             "func": staticmethod(lambda rows, ctx: seen.append(rows) or to_csv_text(rows))})()
    path, error, _ = render_module.render_job(sent, tmp_path / "out", load_config(None), {"x": spec})
    assert error is None and (tmp_path / "out" / "x.png").read_text() == to_csv_text(data)
    pd.testing.assert_frame_equal(seen[0], data)
    assert render_module.spooled(render_module.Job("x", "x.png", {}, data.iloc[:10], "fp"), tmp_path).spool is None
