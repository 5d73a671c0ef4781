"""Drawing one output and writing it: what a worker process does for each job of a run.

Figures are drawn in worker processes (matplotlib is not thread-safe); `render_job` also runs
in-process when there is one worker. Each output is written atomically, so a reader never sees
half a PNG, and one broken plot module is reported without stopping the others.
"""
from __future__ import annotations

import os
import signal
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from utils.atomic import atomic_open, write_text
from runner.blocks import Blocks, plan_blocks, render_in_blocks, write_blocks
from runner.memory import collecting_less
from utils.config import Config

if TYPE_CHECKING:
    import matplotlib.figure
    import numpy as np
    import pandas as pd

    from plots.registry import OutputSpec


@dataclass(frozen=True)
class Job:
    """One output file to render from one data slice."""

    spec_name: str
    rel_path: str
    keys: dict
    data: pd.DataFrame
    fingerprint: str
    salt: str = ""  # what the output depends on besides its data (code, rules): keys its cached blocks
    rows: np.ndarray | None = None  # row hashes of `data`, for a table written in blocks (main process only)
    blocks: Blocks | None = None  # a blocked table as shipped to a worker: `data` is then only the uncached rows
    spool: Path | None = None  # as shipped to a worker: `data` (then empty) is in this file (runner/spool.py)

    @property
    def spooled_to(self) -> Path | None:
        """The spool file this job reads its rows from, if any (its own or its blocks')."""
        return self.spool or (self.blocks.spool if self.blocks is not None else None)


_worker_registry: dict[str, OutputSpec] | None = None
# Workers yield the CPU to the main process (its analysis decides when they can start drawing)
# and to the user's own jobs (the training a watcher runs beside); on an idle machine: no effect.
WORKER_NICE = 5


def _load_registry(extra_modules: tuple[Path, ...]) -> None:
    import matplotlib
    matplotlib.use("Agg")  # workers draw to files only
    # The plot modules do not import pyplot (figures, axes: a third of a second), so a main process
    # that only plans does not pay for it; a worker imports it as it starts, while the main process
    # is still loading or computing the views.
    import matplotlib.pyplot  # noqa: F401
    from plots.registry import discover
    global _worker_registry
    _worker_registry = discover(extra_modules)


def init_worker(extra_modules: tuple[Path, ...], warm: bool = False) -> None:
    """Pool worker start: Ctrl-C goes to the whole process group, but only the main process
    decides to stop; a worker finishes the output in hand. Workers run at a lower priority.
    `warm`: draw a throw-away figure first (`_warm_up`), for workers that wait idle for their first job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        os.nice(WORKER_NICE)
    except OSError:  # not allowed here: same priority as the main process
        pass
    _load_registry(extra_modules)  # the plot modules are inherited from the main process; pyplot is not
    if warm:
        _warm_up()


def _warm_up() -> None:
    """Draw one small figure in the project's style and throw it away: the fonts, the mathtext parser and
    the PNG writer its first figure would load first are loaded by then. Only for a worker that waits
    (watch mode, between changes): it costs ~0.1 s of CPU and saves its first figure ~0.03 s, so a run
    whose workers get jobs while they start (a paper-size rerun, CPU-bound on 2 cores) is quicker
    without it (12 alternating pairs: 0.13 s by the median pair). The process's own settings are
    restored after; a failure here only means no warm-up (the figure will say)."""
    import io

    import matplotlib
    import matplotlib.pyplot as plt
    try:
        from plots.style import RC
        with matplotlib.rc_context(RC):
            fig, ax = plt.subplots(figsize=(2.0, 1.5))
            ax.plot([0, 1], [0, 1], marker="o", label="run")
            ax.set_title(r"run $\pm$ std", fontweight="bold")
            ax.set_xlabel("step", fontstyle="italic")
            ax.legend()
            save_figure(fig, io.BytesIO(), "png", 100)
            plt.close(fig)
    except Exception:  # noqa: BLE001 - a warm-up only: the first real figure reports its own failure
        pass


def started() -> None:
    """A job that does nothing: submitting it makes the pool start its workers."""


def ping() -> int:
    """A trivial job: waiting for one per worker means every worker is up."""
    time.sleep(0.05)  # long enough that each worker takes one
    return os.getpid()


def save_figure(fig: matplotlib.figure.Figure, fh: BinaryIO, fmt: str, dpi: float) -> None:
    """Write a figure; a PNG is drawn once.

    With a layout engine (constrained layout) `savefig` draws the figure twice: a dry draw that
    lays it out, then the real one; on our many-panel figures (hundreds of tick labels) the dry
    draw is ~15% of the time. For PNG we lay out at the file's resolution ourselves and switch the
    engine off: the same pixels, one draw, compressed fast. Vector formats lay out at their own
    resolution: left to savefig."""
    engine = fig.get_layout_engine()
    if fmt != "png":
        fig.savefig(fh, format=fmt, dpi=dpi)
        return
    if engine is not None and fig.axes:
        fig.set_dpi(dpi)  # text extents, hence the layout, depend on it
        engine.execute(fig)
        fig.set_layout_engine(None)  # no engine (unless rcParams ask for one): savefig draws once
    # zlib level 1 instead of PIL's 6: the same pixels, ~9% less save time, files ~5% larger
    fig.savefig(fh, format=fmt, dpi=dpi, pil_kwargs={"compress_level": 1})


def block_cache(out: Path, output: str) -> Path:
    """Where the layout of a table written in blocks is kept (runner/blocks.py)."""
    return out / ".cache" / "blocks" / output


def shipped(job: Job, spec: OutputSpec, out: Path, fresh: bool = False) -> Job:
    """The job as sent to a worker: a table written in blocks goes with only the rows of the blocks
    it cannot copy from the last run's file (`fresh`: none copied, as `--force` asks)."""
    if not spec.blocks_by:
        return job
    blocks = plan_blocks(job.data, spec.blocks_by, out / job.rel_path, block_cache(out, spec.name), job.salt,
                         job.rows, fresh)
    return replace(job, data=blocks.rows, rows=None, blocks=blocks)


SPOOL_OVER = 200_000  # a job shipped with more rows than this (to draw, or to format) goes through a file


def rowless(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame`'s columns and dtypes without its rows, and without a hold on its arrays: an empty
    slice (`iloc[:0]`) is a view that keeps every column of the frame alive (305 MB of a log tree's
    overview, kept through the whole render by a job whose rows went to a spool)."""
    return frame.iloc[:0].copy()


def spooled(job: Job, folder: Path) -> Job:
    """A shipped job (`shipped`) with more than `SPOOL_OVER` rows, with those rows in a spool file
    in `folder` (runner/spool.py) instead of in the job: a blocked table reads them a slice at a
    time, any other output whole. The caller removes `job.spooled_to` once the job is done."""
    from runner.spool import write_spool
    blocks = job.blocks
    if blocks is not None and blocks.names:
        if len(blocks.rows) <= SPOOL_OVER:
            return job
        none = rowless(blocks.rows)
        return replace(job, data=none, blocks=replace(blocks, rows=none, spool=write_spool(blocks.rows, folder)))
    if blocks is not None or len(job.data) <= SPOOL_OVER:
        return job
    return replace(job, data=rowless(job.data), spool=write_spool(job.data, folder))


def render_job(job: Job, out: Path, config: Config,
               registry: dict[str, OutputSpec] | None = None) -> tuple[str, str | None, float]:
    """Draw one output and write it atomically; returns (path, error or None, seconds).

    In a worker the registry is the one the worker imported; in-process, the caller's."""
    with collecting_less():
        return _render_job(job, out, config, registry)


def _render_job(job: Job, out: Path, config: Config,
                registry: dict[str, OutputSpec] | None) -> tuple[str, str | None, float]:
    start = time.perf_counter()
    if registry is None:
        if _worker_registry is None or job.spec_name not in _worker_registry:
            _load_registry(config.plot_modules)
        registry = _worker_registry
    spec = registry[job.spec_name]
    from plots.registry import OutputContext  # lazily: a no-op run imports this module, not pandas
    ctx = OutputContext(config=config, keys=dict(job.keys), title=spec.title)
    try:
        target = out / job.rel_path
        if spec.blocks_by:  # written piece by piece, never held whole (metrics.csv: every record)
            cache = block_cache(out, spec.name)
            draw = lambda rows: spec.func(rows, ctx)  # noqa: E731
            if job.blocks is not None:
                write_blocks(draw, job.blocks, target, cache)
            else:
                render_in_blocks(draw, job.data, spec.blocks_by, target, cache, job.salt, job.rows)
            return job.rel_path, None, time.perf_counter() - start
        if job.spool is not None:
            from runner.spool import read_spool
            job = replace(job, data=read_spool(job.spool), spool=None)
        result = spec.func(job.data, ctx)
        if spec.kind == "figure":
            import matplotlib.pyplot as plt
            try:
                with atomic_open(target, "wb") as fh:
                    save_figure(result, fh, config.plot_format, config.plot_dpi)
            finally:
                plt.close(result)
        else:
            write_text(target, result)
    except Exception as exc:  # one broken module must not stop the others
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return job.rel_path, f"{spec.module}: {type(exc).__name__}: {exc} (line {tb.lineno} of " \
                             f"{Path(tb.filename).name})", time.perf_counter() - start
    return job.rel_path, None, time.perf_counter() - start
