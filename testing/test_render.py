"""Writing a figure: laid out once, and the same pixels as matplotlib's own savefig."""
from __future__ import annotations

import io

import matplotlib
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from plots.style import apply_style
from runner.render import rowless, save_figure

matplotlib.use("Agg")


def _busy_figure() -> plt.Figure:
    """Many panels, long tick labels, a log axis, an outside legend and a suptitle: what
    constrained layout has to work for."""
    apply_style()
    fig, axes = plt.subplots(2, 3, figsize=(9, 5), layout="constrained", sharey=True)
    rng = np.random.default_rng(3)
    for i, ax in enumerate(axes.flat):
        ax.barh(range(6), rng.uniform(1, 500, 6))
        ax.set_yticks(range(6), [f"pt1_seed{i}_ft2-{k} (long label)" for k in range(6)])
        ax.set_xscale("log")
        ax.set_title(f"task {i}")
        ax.set_xlabel("error (km)\n(lower is better)")
    fig.legend([plt.Rectangle((0, 0), 1, 1)], ["trained on this task"], loc="outside lower center")
    fig.suptitle("ft2 vs baseline: raw metric at last checkpoint")
    return fig


def _pixels(data: bytes) -> np.ndarray:
    return matplotlib.image.imread(io.BytesIO(data), format="png")


@pytest.mark.parametrize("dpi", [80, 110, 150])  # rc figure.dpi is 110: also other resolutions
def test_same_pixels_as_savefig(dpi: int) -> None:
    ours, theirs = io.BytesIO(), io.BytesIO()
    fig = _busy_figure()
    save_figure(fig, ours, "png", dpi)
    plt.close(fig)
    fig = _busy_figure()
    fig.savefig(theirs, format="png", dpi=dpi)
    plt.close(fig)
    a, b = _pixels(ours.getvalue()), _pixels(theirs.getvalue())
    assert a.shape == b.shape
    assert np.array_equal(a, b)


@pytest.mark.parametrize("ours, draws", [(True, 1), (False, 2)])
def test_png_drawn_once(monkeypatch: pytest.MonkeyPatch, ours: bool, draws: int) -> None:
    layouts, drawn = [], []
    execute, draw = ConstrainedLayoutEngine.execute, Figure.draw
    monkeypatch.setattr(ConstrainedLayoutEngine, "execute", lambda self, fig: layouts.append(1) or execute(self, fig))
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: drawn.append(1) or draw(self, renderer))
    fig = _busy_figure()
    buf = io.BytesIO()
    if ours:
        save_figure(fig, buf, "png", 80)
    else:  # a dry draw that lays the figure out, then the real one
        fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    assert buf.getvalue().startswith(b"\x89PNG")
    assert (len(layouts), len(drawn)) == (1, draws)


@pytest.mark.parametrize("fmt, magic", [("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_vector_formats(fmt: str, magic: bytes) -> None:
    fig = _busy_figure()
    buf = io.BytesIO()
    save_figure(fig, buf, fmt, 80)
    plt.close(fig)
    assert buf.getvalue().startswith(magic) and len(buf.getvalue()) > 5000


def test_figure_without_layout_engine() -> None:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([1, 2, 3])
    buf = io.BytesIO()
    save_figure(fig, buf, "png", 50)
    plt.close(fig)
    assert _pixels(buf.getvalue()).shape[:2] == (100, 150)


def test_workers_run_below_the_main_process_priority() -> None:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from runner.render import WORKER_NICE, init_worker

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=init_worker,
                             initargs=((),)) as pool:
        worker = pool.submit(os.nice, 0).result()
    assert worker == min(os.nice(0) + WORKER_NICE, 19)
    assert os.nice(0) < worker or os.nice(0) == 19


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_a_page_figure_is_drawn_once_at_its_page_size(monkeypatch: pytest.MonkeyPatch, small_tree, config,
                                                      fmt: str) -> None:
    """The figures lay themselves out in inches (plots/style.py Page): no layout engine, one draw, and a
    PNG exactly plots.width x dpi pixels wide."""
    from testing_helpers import render

    [(_, fig)], _ = render("comparison", small_tree, config, only={"group": "ft1", "condition": "standard"})
    assert fig.get_layout_engine() is None
    drawn, draw = [], Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: drawn.append(1) or draw(self, renderer))
    buf = io.BytesIO()
    save_figure(fig, buf, fmt, config.plot_dpi)
    assert len(drawn) == 1
    if fmt == "png":
        width = _pixels(buf.getvalue()).shape[1]
        assert width == round(config.plot_width * config.plot_dpi)
    else:
        assert len(buf.getvalue()) > 5000


@pytest.mark.parametrize("fails", [False, True], ids=["drawn", "module raises"])
def test_the_collector_runs_less_often_while_an_output_is_drawn(tmp_path, config, fails: bool) -> None:
    """Figures allocate ~10^5 objects each: while one is drawn the cyclic collector waits for
    FEWER_COLLECTIONS allocations; the process's own threshold is back afterwards, also after a
    module raised."""
    import gc

    import pandas as pd

    from plots.registry import OutputSpec
    from runner.memory import FEWER_COLLECTIONS
    from runner.render import Job, render_job

    seen = []

    def draw(data, ctx):
        seen.append(gc.get_threshold())
        if fails:
            raise ValueError("broken module")
        fig = plt.figure(figsize=(1, 1))
        return fig

    spec = OutputSpec("gc_probe", draw, "figure", "scores", (), "gc_probe", "t", "d", "testing")
    before = gc.get_threshold()
    rel, error, _ = render_job(Job("gc_probe", "gc_probe.png", {}, pd.DataFrame(), "f"), tmp_path, config,
                               {"gc_probe": spec})
    assert seen == [FEWER_COLLECTIONS] and FEWER_COLLECTIONS[0] > before[0]
    assert gc.get_threshold() == before
    assert (error is not None) == fails and (tmp_path / "gc_probe.png").is_file() != fails


def _root(array) -> np.ndarray:
    """The array a (view) array's memory belongs to."""
    array = np.asarray(array)
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def test_a_rowless_frame_keeps_the_columns_and_none_of_the_rows_memory() -> None:
    import pandas as pd
    frame = pd.DataFrame({"step": np.arange(1000), "label": pd.Categorical(np.arange(1000) % 3),
                          "note": [str(i) for i in range(1000)]})
    empty = rowless(frame)
    assert list(empty.columns) == list(frame.columns) and (empty.dtypes == frame.dtypes).all() and len(empty) == 0
    held = [_root(empty["step"].array._ndarray), _root(empty["label"].array.codes), _root(empty["note"].to_numpy())]
    assert [a.nbytes for a in held] == [0, 0, 0]
    sliced = frame.iloc[:0]  # what it replaces: an empty view holding every row
    assert _root(sliced["step"].array._ndarray).nbytes == 8000


@pytest.mark.parametrize("waits", [True, False], ids=["watch_pool_warms_up", "run_pool_does_not"])
def test_only_workers_that_wait_for_their_first_job_warm_up(monkeypatch, tmp_path, small_tree, waits: bool):
    """Watch mode starts its pool before any change (`start_pool`): its workers draw the throw-away figure
    while they wait. A run's workers get jobs as they start: no warm-up (~0.1 s of CPU each, on the cores
    the run's own figures need). Each worker inherits the patched `_warm_up` through fork."""
    import os

    import runner.render
    from runner.pipeline import Pipeline
    from runner.report import Options
    from utils.config import load_config

    marks = tmp_path / "warmed"
    marks.mkdir()
    monkeypatch.setattr(runner.render, "_warm_up", lambda: (marks / str(os.getpid())).touch())
    pipeline = Pipeline(load_config(None), Options(data=small_tree, out=tmp_path / "out", jobs=2, progress=False,
                                                   only=("scores_csv", "heatmap")))  # the registry is the process's
    try:
        if waits:
            pipeline.start_pool()
        report = pipeline.run()
    finally:
        pipeline.close()
    assert report.rendered and not report.failed
    assert len(list(marks.iterdir())) == (2 if waits else 0)


def test_a_workers_warm_up_leaves_no_figure_and_the_settings_as_they_were():
    """init_worker draws one throw-away figure in the project's style (fonts, mathtext and the PNG
    writer loaded before the first job): nothing of it may stay to change what the jobs draw."""
    import matplotlib
    import matplotlib.pyplot as plt

    from runner.render import _warm_up
    before = dict(matplotlib.rcParams)
    figures = plt.get_fignums()
    _warm_up()
    assert plt.get_fignums() == figures
    assert dict(matplotlib.rcParams) == before
