"""One run: load -> analysis views -> output jobs -> render only what is out of date.

Each output (figure or table) is fingerprinted from the exact data slice it draws, its module's
source and the rules it depends on; the fingerprints live in `<out>/.cache/manifest.json`, so a
rerun with nothing changed renders nothing and one changed evaluation file redraws only the
outputs whose slice changed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from analysis.scores import Gaps
from analysis.views import compute as compute_views
from plots.registry import OutputContext, OutputSpec, discover
from utils.atomic import atomic_open, write_text
from utils.config import Config
from utils.errors import UserError
from utils.gallery import write_gallery
from utils.loading import LoadResult, ParseCache, load

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Job:
    """One output file to render from one data slice."""

    spec_name: str
    rel_path: str
    keys: dict
    data: pd.DataFrame
    fingerprint: str


@dataclass
class RunReport:
    files: int = 0
    parsed: int = 0
    problems: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    planned: int = 0
    rendered: list[str] = field(default_factory=list)
    up_to_date: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (output, reason)
    seconds: float = 0.0
    strict: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or (self.strict and self.problems) else 0

    def summary(self) -> str:
        parts = [f"{self.files} evaluation files ({self.parsed} parsed)",
                 f"{len(self.rendered)} outputs written", f"{self.up_to_date} up to date"]
        if self.removed:
            parts.append(f"{len(self.removed)} stale removed")
        if self.problems:
            parts.append(f"{len(self.problems)} file(s) skipped as unreadable")
        if self.failed:
            parts.append(f"{len(self.failed)} FAILED: " + "; ".join(f"{o} ({r})" for o, r in self.failed))
        return ", ".join(parts) + f" in {self.seconds:.2f}s"


@dataclass
class Options:
    data: Path
    out: Path
    only: tuple[str, ...] = ()
    jobs: int = 0  # 0 = all cores
    force: bool = False
    strict: bool = False
    progress: bool = True


def _hash_frame(frame: pd.DataFrame) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(",".join(map(str, frame.columns)).encode())
    if len(frame):
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _config_hash(config: Config) -> str:
    relevant = {k: v for k, v in config.raw.items() if k not in ("tidy", "data", "output", "readers")}
    return hashlib.blake2b(json.dumps(relevant, sort_keys=True, default=str).encode(),
                           digest_size=12).hexdigest()


def split(spec: OutputSpec, view: pd.DataFrame) -> Iterable[tuple[dict, pd.DataFrame]]:
    """Slices of a view, one per output file; baseline rows go along with every group's slice."""
    if not spec.per:
        yield {}, view
        return
    is_base = view["group"] == "baseline" if "group" in view.columns else pd.Series(False, index=view.index)
    members = view[~is_base]
    if members.empty:
        return
    for values, part in members.groupby(list(spec.per), sort=True):
        values = values if isinstance(values, tuple) else (values,)
        keys = dict(zip(spec.per, values))
        if is_base.any() and "baseline_experiment" in view.columns:
            base = view[is_base & view["experiment"].isin(part["baseline_experiment"].unique())]
            for k, v in keys.items():
                if k != "group" and k in base.columns:
                    base = base[base[k] == v]
            part = pd.concat([base, part])
        yield keys, part


# --- worker side -------------------------------------------------------------------------------

_worker_registry: dict[str, OutputSpec] | None = None


def _init_worker(extra_modules: tuple[Path, ...]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    global _worker_registry
    _worker_registry = discover(extra_modules)


def render_job(job: Job, out: Path, config: Config) -> tuple[str, str | None, float]:
    """Draw one output and write it atomically; returns (path, error or None, seconds)."""
    start = time.perf_counter()
    if _worker_registry is None or job.spec_name not in _worker_registry:
        _init_worker(config.plot_modules)
    spec = _worker_registry[job.spec_name]
    ctx = OutputContext(config=config, keys=dict(job.keys), title=spec.title)
    try:
        result = spec.func(job.data, ctx)
        target = out / job.rel_path
        if spec.kind == "figure":
            import matplotlib.pyplot as plt
            try:
                with atomic_open(target, "wb") as fh:
                    result.savefig(fh, format=config.plot_format, dpi=config.plot_dpi)
            finally:
                plt.close(result)
        else:
            write_text(target, result)
    except Exception as exc:  # one broken module must not stop the others
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return job.rel_path, f"{spec.module}: {type(exc).__name__}: {exc} (line {tb.lineno} of " \
                             f"{Path(tb.filename).name})", time.perf_counter() - start
    return job.rel_path, None, time.perf_counter() - start


# --- runner side -------------------------------------------------------------------------------

class Pipeline:
    """Holds what survives between runs in one process (parse cache, manifest, worker pool)."""

    def __init__(self, config: Config, options: Options, pool: Executor | None = None) -> None:
        self.config = config
        self.options = options
        self.registry = discover(config.plot_modules)
        unknown = [n for n in options.only if n not in self.registry]
        if unknown:
            raise UserError(f"--only: unknown output(s) {', '.join(unknown)}; "
                            f"known: {', '.join(sorted(self.registry))}")
        self.cache_dir = options.out / ".cache"
        self.parse_cache = ParseCache(self.cache_dir / "parsed.pickle")
        self.manifest = self._read_manifest()
        self._pool = pool
        self._own_pool = False
        self.last_load: LoadResult | None = None

    @property
    def specs(self) -> list[OutputSpec]:
        names = self.options.only or tuple(self.registry)
        return [self.registry[n] for n in sorted(names)]

    def _read_manifest(self) -> dict:
        path = self.cache_dir / "manifest.json"
        if self.options.force or not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
            if data.get("version") == MANIFEST_VERSION and isinstance(data.get("outputs"), dict):
                return data["outputs"]
            log.info("output cache %s is from another version; redrawing everything", path)
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("output cache %s is corrupt (%s); redrawing everything", path, exc)
        return {}

    def _write_manifest(self, report: RunReport, load_result: LoadResult) -> None:
        write_text(self.cache_dir / "manifest.json", json.dumps({
            "version": MANIFEST_VERSION,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "outputs": self.manifest,
            "last_run": {"rendered": report.rendered, "failed": [o for o, _ in report.failed],
                         "problems": report.problems, "gaps": report.gaps,
                         "files": report.files, "seconds": round(report.seconds, 3)},
        }, indent=1, sort_keys=True))

    def plan(self, views: dict[str, pd.DataFrame]) -> list[Job]:
        jobs = []
        cfg_hash = _config_hash(self.config)
        for spec in self.specs:
            code = spec.code_hash()
            for keys, part in split(spec, views[spec.needs]):
                rel = spec.path_for(keys, self.config.plot_format)
                fp = hashlib.blake2b(f"{spec.name}|{code}|{cfg_hash}|{_hash_frame(part)}".encode(),
                                     digest_size=16).hexdigest()
                jobs.append(Job(spec.name, rel, keys, part, fp))
        return jobs

    def _executor(self, n_jobs: int) -> Executor | None:
        if self._pool is not None:
            return self._pool
        workers = self.options.jobs or os.cpu_count() or 1
        if workers <= 1 or n_jobs <= 1:
            return None
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(max_workers=min(workers, n_jobs), mp_context=ctx,
                                         initializer=_init_worker, initargs=(self.config.plot_modules,))
        self._own_pool = True
        return self._pool

    def close(self) -> None:
        if self._own_pool and self._pool is not None:
            self._pool.shutdown()
        self._pool = None
        self._own_pool = False

    def run(self) -> RunReport:
        """Bring every selected output up to date; never raises for a bad file or a broken module."""
        start = time.perf_counter()
        report = RunReport(strict=self.options.strict)
        result = load(self.options.data, self.config, self.parse_cache)
        self.last_load = result
        report.files, report.parsed = len(result.files), len(result.parsed)
        report.problems = [str(p) for p in result.problems]
        gaps = Gaps()
        views = compute_views({s.needs for s in self.specs}, result.frame, self.config, gaps)
        report.gaps = gaps.lines()
        jobs = self.plan(views)
        report.planned = len(jobs)
        out = self.options.out
        todo = [j for j in jobs if self.options.force
                or self.manifest.get(j.rel_path, {}).get("fingerprint") != j.fingerprint
                or not (out / j.rel_path).exists()]
        report.up_to_date = len(jobs) - len(todo)

        wanted = {j.rel_path for j in jobs}
        selected = {s.name for s in self.specs}
        for rel, entry in list(self.manifest.items()):
            if rel not in wanted and entry.get("output") in selected:
                (out / rel).unlink(missing_ok=True)
                del self.manifest[rel]
                report.removed.append(rel)

        by_path = {j.rel_path: j for j in todo}
        for rel, error in self._render(todo):
            job = by_path[rel]
            if error is None:
                report.rendered.append(rel)
                self.manifest[rel] = {
                    "fingerprint": job.fingerprint, "output": job.spec_name, "keys": job.keys,
                    "drawn": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "experiments": sorted(map(str, job.data["experiment"].unique()))
                    if "experiment" in job.data.columns else [],
                }
            else:
                report.failed.append((rel, error))
                self.manifest.pop(rel, None)
        self.parse_cache.save()
        report.seconds = time.perf_counter() - start
        self._write_manifest(report, result)
        write_gallery(out, self.registry, self.manifest, {"rendered": report.rendered,
                                                          "problems": report.problems})
        return report

    def _render(self, jobs: list[Job]) -> Iterable[tuple[str, str | None]]:
        if not jobs:
            return
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="rendering", unit="file", leave=False,
                   disable=None if self.options.progress else True)
        pool = self._executor(len(jobs))
        out = self.options.out
        try:
            if pool is None:
                for job in jobs:
                    rel, err, _ = render_job(job, out, self.config)
                    bar.update()
                    yield rel, err
            else:
                # Largest slices first: they take longest, so the pool finishes evenly.
                ordered = sorted(jobs, key=lambda j: -len(j.data))
                futures = {pool.submit(render_job, j, out, self.config): j for j in ordered}
                for fut in as_completed(futures):
                    try:
                        rel, err, _ = fut.result()
                    except Exception as exc:  # a worker died (e.g. killed): report, go on
                        rel, err = futures[fut].rel_path, f"worker failed: {type(exc).__name__}: {exc}"
                    bar.update()
                    yield rel, err
        finally:
            bar.close()
