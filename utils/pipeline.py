"""One run: load -> analysis views -> output jobs -> render only what is out of date.

Each output (figure or table) is fingerprinted from the exact data slice it draws, the source of
its module (and of the project modules that module imports) and the rules it depends on; the
fingerprints live in `<out>/.cache/manifest.json`, so one changed evaluation file redraws only
the outputs whose slice changed, and a module edit redraws only that module's outputs.

A rerun where nothing changed does not even load the data: the manifest also keeps a stamp of
the run's inputs (every evaluation file's size and mtime, a content hash for files whose mtime
was too recent to trust, the code, the rules, the library versions); when the stamp still holds
and every output is on disk, the run ends there. Heavy imports (pandas views, matplotlib) happen
only past that point.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import Executor, Future, ProcessPoolExecutor, wait, FIRST_COMPLETED
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from utils.atomic import atomic_open, write_text
from utils.config import Config
from utils.errors import UserError
from utils.filestamp import content_digest, is_racy

if TYPE_CHECKING:
    import pandas as pd

    from plots.registry import OutputSpec
    from utils.loading import LoadResult, ParseCache

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1
PROJECT = Path(__file__).resolve().parent.parent
_CODE_DIRS = ("analysis", "plots", "utils")  # whatever an output can depend on
_CODE_SUFFIXES = (".py", ".js", ".css")
_MAX_STAMPS = 8  # input stamps kept, one per --only selection


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
    fast: bool = False  # nothing changed: the input stamp held, no data was loaded
    interrupted: bool = False  # stopped (Ctrl-C, SIGTERM) before every output was drawn
    problem_paths: list[Path] = field(default_factory=list)  # the files behind `problems`
    changed: list[str] = field(default_factory=list)  # evaluation files parsed anew this run
    gone: list[str] = field(default_factory=list)  # evaluation files gone since the last run
    deferred: list[Path] = field(default_factory=list)  # unreadable and still being written: retry
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for profiling

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or (self.strict and self.problems) else 0

    def summary(self) -> str:
        parts = [f"{self.files} evaluation files ({self.parsed} parsed)",
                 f"{len(self.rendered)} outputs written", f"{self.up_to_date} up to date"]
        if self.fast:
            parts[0] = f"{self.files} evaluation files (unchanged)"
        if self.removed:
            parts.append(f"{len(self.removed)} stale removed")
        if self.problems:
            parts.append(f"{len(self.problems)} file(s) skipped as unreadable")
        if self.failed:
            parts.append(f"{len(self.failed)} FAILED: " + "; ".join(f"{o} ({r})" for o, r in self.failed))
        if self.interrupted:
            parts.append("interrupted")
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
    import pandas as pd
    h = hashlib.blake2b(digest_size=16)
    h.update(",".join(map(str, frame.columns)).encode())
    h.update(",".join(map(str, frame.dtypes)).encode())
    if len(frame):
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _config_hash(config: Config) -> str:
    relevant = {k: v for k, v in config.raw.items() if k not in ("tidy", "data", "output", "readers")}
    return hashlib.blake2b(json.dumps(relevant, sort_keys=True, default=str).encode(),
                           digest_size=12).hexdigest()


def _source_hash(module: Any) -> str:
    """Hash of a module's source file (its compiled code when the source is not at hand)."""
    path = getattr(module, "__file__", None)
    try:
        data = Path(path).read_bytes() if path else b""
    except OSError:
        data = b""
    return hashlib.blake2b(data or repr(module).encode(), digest_size=12).hexdigest()


def code_hash(spec: OutputSpec) -> str:
    """Changes when the output's module changes, or a project module it imports from does
    (plots.style, analysis.latex, ...), so exactly the affected outputs are redrawn."""
    import inspect
    mod = sys.modules.get(spec.func.__module__)
    if mod is None:
        return hashlib.blake2b(spec.func.__code__.co_code, digest_size=12).hexdigest()
    deps: set[str] = set()
    for obj in vars(mod).values():
        dep = obj if inspect.ismodule(obj) else sys.modules.get(getattr(obj, "__module__", None) or "")
        if dep is None or dep is mod or not isinstance(getattr(dep, "__file__", None), str):
            continue
        if Path(dep.__file__).resolve().is_relative_to(PROJECT) and "site-packages" not in dep.__file__:
            deps.add(dep.__name__)
    parts = [_source_hash(mod)] + [f"{d}:{_source_hash(sys.modules[d])}" for d in sorted(deps)]
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def split(spec: OutputSpec, view: pd.DataFrame) -> Iterable[tuple[dict, pd.DataFrame]]:
    """Slices of a view, one per output file; baseline rows go along with every group's slice."""
    import pandas as pd
    if not spec.per:
        yield {}, view
        return
    is_base = view["group"] == "baseline" if "group" in view.columns else pd.Series(False, index=view.index)
    members = view[~is_base]
    if members.empty:
        return
    for values, part in members.groupby(list(spec.per), sort=True):
        values = values if isinstance(values, tuple) else (values,)
        keys = dict(zip(spec.per, (_plain(v) for v in values)))
        if is_base.any() and "baseline_experiment" in view.columns:
            base = view[is_base & view["experiment"].isin(part["baseline_experiment"].unique())]
            for k, v in keys.items():
                if k != "group" and k in base.columns:
                    base = base[base[k] == v]
            part = pd.concat([base, part])
        yield keys, part


class _ViewFailed(Exception):
    pass


def compute_views(needed: set[str], frame: pd.DataFrame, config: Config,
                  gaps: Any) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The views in `needed` (each computed once, as analysis.views.compute does), and for those
    that raised, the reason: a bug in one view fails the outputs that need it, not the run."""
    from analysis.views import VIEWS
    done: dict[str, pd.DataFrame] = {}
    errors: dict[str, str] = {}

    def get(name: str) -> pd.DataFrame:
        if name in errors:
            raise _ViewFailed(name)
        if name not in done:
            try:
                done[name] = VIEWS[name](frame, config, gaps, get)
            except _ViewFailed as exc:
                errors[name] = f"view {name!r} needs view {exc.args[0]!r}: {errors[exc.args[0]]}"
                raise _ViewFailed(name) from None
            except Exception as exc:  # noqa: BLE001 - reported as the outputs' failure
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                errors[name] = (f"view {name!r}: {type(exc).__name__}: {exc} (line {tb.lineno} of "
                                f"{Path(tb.filename).name})")
                raise _ViewFailed(name) from None
        return done[name]

    for name in sorted(needed):
        try:
            get(name)
        except _ViewFailed:
            pass
    return {k: v for k, v in done.items() if k in needed}, errors


def _plain(value: Any) -> Any:
    """numpy scalars -> Python ones, so slice keys go into JSON and file names cleanly."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


# --- worker side -------------------------------------------------------------------------------

_worker_registry: dict[str, OutputSpec] | None = None


def _load_registry(extra_modules: tuple[Path, ...]) -> None:
    import matplotlib
    matplotlib.use("Agg")  # workers draw to files only
    from plots.registry import discover
    global _worker_registry
    _worker_registry = discover(extra_modules)


def _init_worker(extra_modules: tuple[Path, ...]) -> None:
    """Pool worker start: Ctrl-C goes to the whole process group, but only the main process
    decides to stop; a worker finishes the output in hand."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _load_registry(extra_modules)  # inherited from the main process: cheap


def _ping() -> int:
    time.sleep(0.05)  # long enough that each worker takes one
    return os.getpid()


def render_job(job: Job, out: Path, config: Config,
               registry: dict[str, OutputSpec] | None = None) -> tuple[str, str | None, float]:
    """Draw one output and write it atomically; returns (path, error or None, seconds).

    In a worker the registry is the one the worker imported; in-process, the caller's."""
    start = time.perf_counter()
    if registry is None:
        if _worker_registry is None or job.spec_name not in _worker_registry:
            _load_registry(config.plot_modules)
        registry = _worker_registry
    spec = registry[job.spec_name]
    from plots.registry import OutputContext
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


# --- the input stamp (no-op fast path) ---------------------------------------------------------

def code_state(config: Config) -> str:
    """Hash of every source file outputs can depend on, the extra plot modules and the libraries."""
    from importlib.util import find_spec
    h = hashlib.blake2b(digest_size=16)
    files = [p for d in _CODE_DIRS for p in sorted((PROJECT / d).rglob("*"))
             if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts]
    for path in [*files, *config.plot_modules]:
        h.update(str(path).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
    for lib in ("numpy", "pandas", "matplotlib"):  # an upgrade rewrites the package's __init__
        spec = find_spec(lib)
        try:
            st = os.stat(spec.origin) if spec and spec.origin else None
        except OSError:
            st = None
        h.update(f"{lib}:{spec and spec.origin}:{st and (st.st_size, st.st_mtime_ns)}".encode())
    h.update(sys.version.encode())
    return h.hexdigest()


def scan_tree(root: Path) -> dict[str, tuple[int, int]] | None:
    """path -> (size, mtime_ns) of every file under root that discovery could pick (a superset:
    any file added, removed or touched there invalidates the stamp); None if root is missing."""
    if not root.is_dir():
        return None
    rows: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or name.endswith(".tmp"):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            rows[path] = (st.st_size, st.st_mtime_ns)
    return rows


def _selection_key(config: Config, options: Options) -> str:
    rules = json.dumps(config.raw, sort_keys=True, default=str)
    return hashlib.blake2b(f"{options.data.resolve()}|{','.join(sorted(options.only))}|{rules}".encode(),
                           digest_size=12).hexdigest()


def _files_hash(rows: Iterable[tuple]) -> str:
    return hashlib.blake2b(repr(sorted(rows)).encode(), digest_size=16).hexdigest()


class _Clock:
    """Records the seconds since the previous call under a phase name."""

    def __init__(self, into: dict[str, float], start: float) -> None:
        self.into, self.last = into, start

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = round(now - self.last, 3)
        self.last = now


# --- runner side -------------------------------------------------------------------------------

class Pipeline:
    """Holds what survives between runs in one process (parse cache, manifest, worker pool)."""

    def __init__(self, config: Config, options: Options, pool: Executor | None = None) -> None:
        self.config = config
        self.options = options
        self.cache_dir = options.out / ".cache"
        self._parse_cache: ParseCache | None = None
        self._registry: dict[str, OutputSpec] | None = None
        self.manifest, self.stamps = self._read_manifest()
        self._pool = pool
        self._own_pool = False
        self._pool_broken = False
        self.last_load: LoadResult | None = None
        self.stop = threading.Event()  # set it (e.g. from a signal handler) to end after the job in hand
        self._known_files: set[str] | None = None
        self._carry: tuple[set[str], set[str]] = (set(), set())  # changed, gone of deferred runs
        self._code_hashes: dict[str, str] = {}  # per output, of the code as imported
        self._code_loaded: str | None = None  # code_state() when the modules were imported
        self.cache_save_interval = 0.0  # watch mode: write parsed.pickle at most this often
        self._cache_saved = 0.0

    # lazily: a no-op run needs neither the plot modules (matplotlib) nor the parse cache
    @property
    def registry(self) -> dict[str, OutputSpec]:
        if self._registry is None:
            from plots.registry import discover
            registry = discover(self.config.plot_modules)
            unknown = [n for n in self.options.only if n not in registry]
            if unknown:
                raise UserError(f"--only: unknown output(s) {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(registry))}")
            # Hash the code now, as imported: an edit later in a long (watch) session must not
            # label outputs drawn by the old code with the new code's fingerprint.
            self._code_hashes = {name: code_hash(spec) for name, spec in registry.items()}
            self._code_loaded = code_state(self.config)
            self._registry = registry
        return self._registry

    @property
    def parse_cache(self) -> ParseCache:
        if self._parse_cache is None:
            from utils.loading import ParseCache, reading_rules
            self._parse_cache = ParseCache(self.cache_dir / "parsed.pickle", reading_rules(self.config))
        return self._parse_cache

    @property
    def specs(self) -> list[OutputSpec]:
        names = self.options.only or tuple(self.registry)
        return [self.registry[n] for n in sorted(names)]

    # --- manifest ------------------------------------------------------------------------------

    def _read_manifest(self) -> tuple[dict, dict]:
        """(outputs, input stamps); anything malformed is dropped and redrawn, never trusted."""
        path = self.cache_dir / "manifest.json"
        if not path.exists():
            return {}, {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION \
                    or not isinstance(data.get("outputs"), dict):
                log.info("output cache %s is from another version; redrawing everything", path)
                return {}, {}
        except (OSError, ValueError) as exc:
            log.warning("output cache %s is corrupt (%s); redrawing everything", path, exc)
            return {}, {}
        outputs = {rel: e for rel, e in data["outputs"].items()
                   if isinstance(e, dict) and isinstance(e.get("fingerprint"), str)
                   and isinstance(e.get("output"), str)}
        stamps = data.get("stamps") if isinstance(data.get("stamps"), dict) else {}
        return outputs, {k: v for k, v in stamps.items() if isinstance(v, dict)}

    def _write_manifest(self, last_run: dict) -> None:
        write_text(self.cache_dir / "manifest.json", json.dumps({
            "version": MANIFEST_VERSION,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "outputs": self.manifest,
            "stamps": self.stamps,
            "last_run": last_run,
        }, indent=1, sort_keys=True, default=str))

    # --- the no-op fast path -------------------------------------------------------------------

    def _stamp_holds(self, code: str, tree: dict[str, tuple[int, int]] | None) -> RunReport | None:
        """A report of the last run when nothing it read or drew has changed since, else None."""
        stamp = self.stamps.get(_selection_key(self.config, self.options))
        if self.options.force or not stamp or stamp.get("code") != code or tree is None:
            return None
        out = self.options.out
        selected = set(self.options.only)
        if not all((out / rel).is_file() for rel, e in self.manifest.items()
                   if not selected or e.get("output") in selected):
            return None
        if not (out / "index.html").is_file():
            return None
        if _files_hash(tree.items()) != stamp.get("files"):
            return None
        if any(content_digest(Path(p)) != d for p, d in (stamp.get("racy") or {}).items()):
            return None
        last = stamp.get("report") or {}
        return RunReport(files=int(last.get("files", 0)), parsed=0, problems=list(last.get("problems", [])),
                         gaps=list(last.get("gaps", [])), planned=int(last.get("planned", 0)),
                         up_to_date=int(last.get("planned", 0)), strict=self.options.strict, fast=True,
                         problem_paths=[Path(p) for p in last.get("problem_paths", [])])

    def _make_stamp(self, tree: dict[str, tuple[int, int]] | None, result: LoadResult, code: str,
                    report: RunReport) -> dict | None:
        """Stamp of the tree as scanned before loading, if the loader read exactly those files."""
        if tree is None:
            return None
        entries = self.parse_cache.entries
        racy: dict[str, str] = {}
        for path in result.files:
            entry = entries.get(str(path))
            if entry is None or tuple(entry[:2]) != tree.get(str(path)):
                return None  # changed (or vanished) while this run read it: check fully next time
        now = time.time()
        for path, (_, mtime_ns) in tree.items():
            if is_racy(mtime_ns, now):
                entry = entries.get(path)
                digest = entry[3] if entry is not None and entry[3] is not None else content_digest(Path(path))
                if digest is None:
                    return None
                racy[path] = digest
        return {"code": code, "files": _files_hash(tree.items()), "racy": racy, "report": {
            "files": report.files, "problems": report.problems, "gaps": report.gaps,
            "planned": report.planned, "problem_paths": [str(p) for p in report.problem_paths]}}

    # --- the run ---------------------------------------------------------------------------------

    def run(self, defer_unsettled: float = 0.0) -> RunReport:
        """Bring every selected output up to date; never raises for a bad file or a broken module.

        With `defer_unsettled` > 0 (watch mode), a run that finds an unreadable file modified
        less than that many seconds ago renders nothing (report.deferred): the writer is
        probably not done, so the caller retries once it settles.
        """
        start = time.perf_counter()
        code = code_state(self.config)
        tree = scan_tree(self.options.data)  # before loading: the stamp must not be newer than the data
        fast = self._stamp_holds(code, tree)
        if fast is not None:
            fast.seconds = time.perf_counter() - start
            return fast
        report = RunReport(strict=self.options.strict)
        clock = _Clock(report.timings, start)
        registry = self.registry  # imports the plot modules (and validates --only) before forking
        if code != self._code_loaded and self._code_loaded is not None:
            log.warning("the plot or analysis code changed on disk since this process started; "
                        "outputs are still drawn with the code it loaded: restart to use the new code")
            self._code_loaded = code  # say it once per change
        pool = self._executor()
        clock("check")
        from utils.loading import load
        result = load(self.options.data, self.config, self.parse_cache, pool=pool)
        clock("load")
        self.last_load = result
        report.files, report.parsed = len(result.files), len(result.parsed)
        report.problems = [str(p) for p in result.problems]
        report.problem_paths = [p.path for p in result.problems]
        now_files = {str(p) for p in result.files}
        changed = self._carry[0] | {self.relative(p) for p in result.parsed}
        gone = self._carry[1] | ({self.relative(Path(p)) for p in self._known_files - now_files}
                                 if self._known_files is not None else set())
        report.changed, report.gone = sorted(changed), sorted(gone)
        self._known_files = now_files
        report.deferred = self.unsettled(report, defer_unsettled) if defer_unsettled > 0 else []
        if report.deferred:  # nothing drawn from half a file; the caller retries once it settles
            self._carry = (changed, gone)
            self._save_parse_cache()
            report.seconds = time.perf_counter() - start
            return report
        self._carry = (set(), set())

        from analysis.scores import Gaps
        gaps = Gaps()
        views, view_errors = compute_views({s.needs for s in self.specs}, result.frame, self.config, gaps)
        report.gaps = gaps.lines()
        clock("views")
        jobs = self.plan(views)
        del views
        blocked = {s.name for s in self.specs if s.needs in view_errors}
        for name in sorted(blocked):  # its outputs stay as they were; reported, retried next run
            spec = self.registry[name]
            pattern = spec.writes.format(**{k: "*" for k in spec.per})
            ext = f".{self.config.plot_format}" if spec.kind == "figure" else ""
            report.failed.append((pattern + ext, view_errors[spec.needs]))
        clock("plan")
        report.planned = len(jobs)
        out = self.options.out
        todo = [j for j in jobs if self.options.force
                or self.manifest.get(j.rel_path, {}).get("fingerprint") != j.fingerprint
                or not (out / j.rel_path).is_file()]
        report.up_to_date = len(jobs) - len(todo)
        self._remove_stale({j.rel_path for j in jobs}, report, keep=blocked)

        by_path = {j.rel_path: j for j in todo}
        for rel, error, seconds in self._render(todo):
            job = by_path[rel]
            if error is None:
                report.rendered.append(rel)
                self.manifest[rel] = self._entry(job, seconds)
            else:
                report.failed.append((rel, error))
                self.manifest.pop(rel, None)
        report.interrupted = self.stop.is_set() and len(report.rendered) + len(report.failed) < len(todo)
        clock("render")
        self._save_parse_cache()
        report.seconds = time.perf_counter() - start
        key = _selection_key(self.config, self.options)
        stamp = None if report.failed or report.interrupted else self._make_stamp(tree, result, code, report)
        self.stamps.pop(key, None)
        if stamp is not None:
            self.stamps[key] = stamp
            while len(self.stamps) > _MAX_STAMPS:
                self.stamps.pop(next(iter(self.stamps)))
        last_run = self._last_run(report)
        self._write_manifest(last_run)
        from utils.gallery import write_gallery
        write_gallery(out, registry, self.manifest, last_run, self.config)
        clock("save")
        return report

    def _save_parse_cache(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._cache_saved >= self.cache_save_interval:
            self.parse_cache.save()
            self._cache_saved = now

    def unsettled(self, report: RunReport, settle: float) -> list[Path]:
        """Unreadable files modified less than `settle` seconds ago (probably still being written)."""
        now = time.time()
        out = []
        for path in report.problem_paths:
            try:
                if now - path.stat().st_mtime < settle:
                    out.append(path)
            except OSError:
                pass
        return out

    def relative(self, path: Path) -> str:
        """A path as the logs show it: relative to the data root."""
        try:
            return path.relative_to(self.options.data).as_posix()
        except ValueError:
            return str(path)

    def _entry(self, job: Job, seconds: float) -> dict:
        """What the manifest remembers of a drawn output: its fingerprint and what it was drawn from."""
        def values(col: str) -> list[str]:
            return sorted(map(str, job.data[col].dropna().unique())) if col in job.data.columns else []
        return {"fingerprint": job.fingerprint, "output": job.spec_name, "keys": job.keys,
                "drawn": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "seconds": round(seconds, 3), "experiments": values("experiment"),
                "conditions": values("condition"), "tasks": values("task")}

    def _last_run(self, report: RunReport) -> dict:
        return {"rendered": report.rendered, "failed": [o for o, _ in report.failed],
                "problems": report.problems, "gaps": report.gaps, "files": report.files,
                "seconds": round(report.seconds, 3), "timings": report.timings,
                "changed": report.changed, "gone": report.gone,
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def _remove_stale(self, wanted: set[str], report: RunReport, keep: set[str]) -> None:
        """Delete outputs no longer produced: a slice that vanished, or a module that was removed."""
        selected = {s.name for s in self.specs} - keep
        for rel, entry in list(self.manifest.items()):
            name = entry.get("output")
            if name in keep:
                continue
            gone_module = not self.options.only and name not in self.registry
            if rel not in wanted and (name in selected or gone_module):
                (self.options.out / rel).unlink(missing_ok=True)
                del self.manifest[rel]
                report.removed.append(rel)

    def plan(self, views: dict[str, pd.DataFrame]) -> list[Job]:
        """One fingerprinted job per output file. Outputs that split the same view the same way
        share the slices (and their hashes): they are computed once."""
        jobs = []
        cfg_hash = _config_hash(self.config)
        slices: dict[tuple[str, tuple[str, ...]], list[tuple[dict, pd.DataFrame, str]]] = {}
        for spec in self.specs:
            if spec.needs not in views:
                continue
            code = self._code_hashes.get(spec.name) or code_hash(spec)
            key = (spec.needs, spec.per)
            if key not in slices:
                slices[key] = [(keys, part, _hash_frame(part)) for keys, part in split(spec, views[spec.needs])]
            for keys, part, data_hash in slices[key]:
                rel = spec.path_for(keys, self.config.plot_format)
                fp = hashlib.blake2b(f"{spec.name}|{code}|{cfg_hash}|{data_hash}".encode(),
                                     digest_size=16).hexdigest()
                jobs.append(Job(spec.name, rel, dict(keys), part, fp))
        return jobs

    # --- workers ---------------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self.options.jobs or os.cpu_count() or 1

    def start_pool(self) -> Executor | None:
        """Import what a run needs and fork the worker pool now, waiting until every worker is
        up (watch mode calls this before any other thread exists: forking a process with
        threads is not safe; and the first rebuild should not pay for the imports)."""
        self.registry  # noqa: B018 - the plot modules, matplotlib
        import analysis.views  # noqa: F401
        import utils.loading  # noqa: F401
        pool = self._executor()
        if pool is not None and self._own_pool:
            for fut in [pool.submit(_ping) for _ in range(self.workers)]:
                fut.result()
        return pool

    def _executor(self) -> Executor | None:
        if self._pool is not None or self._pool_broken:
            return self._pool
        if self.workers <= 1:
            return None
        self.registry  # noqa: B018 - import the plot modules once, before forking: workers inherit them
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                         initializer=_init_worker, initargs=(self.config.plot_modules,))
        self._own_pool = True
        return self._pool

    def close(self) -> None:
        """Stop the worker pool (outputs in hand are finished, queued ones dropped); save the cache."""
        if self._parse_cache is not None:
            self._save_parse_cache(force=True)
        if self._own_pool and self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._own_pool = False

    def _render(self, jobs: list[Job]) -> Iterator[tuple[str, str | None, float]]:
        if not jobs:
            return
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="rendering", unit="file", leave=False,
                   disable=None if self.options.progress else True)
        pool = self._executor()
        # Tables first (cheap, and what a watcher looks at first), then the slowest figures first
        # (last run's time; new ones count as slow), so the pool finishes evenly.
        kinds = {s.name: s.kind for s in self.specs}
        def last_seconds(job: Job) -> float:
            seconds = self.manifest.get(job.rel_path, {}).get("seconds")
            return float(seconds) if isinstance(seconds, (int, float)) else 1e9

        ordered = sorted(jobs, key=lambda j: (kinds.get(j.spec_name) != "table", -last_seconds(j)))
        try:
            if pool is None:
                for job in ordered:
                    if self.stop.is_set():
                        break
                    result = render_job(job, self.options.out, self.config, self.registry)
                    bar.update()
                    yield result
            else:
                yield from self._render_pool(pool, ordered, bar)
        finally:
            bar.close()

    def _render_pool(self, pool: Executor, jobs: list[Job], bar: Any) -> Iterator[tuple[str, str | None, float]]:
        futures: dict[Future, Job] = {pool.submit(render_job, j, self.options.out, self.config): j for j in jobs}
        pending = set(futures)
        broken: list[Job] = []
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            if self.stop.is_set():  # finish what the workers hold, drop the queue
                for fut in pending:
                    fut.cancel()
            for fut in done:
                if fut.cancelled():
                    continue
                job = futures[fut]
                try:
                    result = fut.result()
                except BrokenProcessPool:  # a worker died (killed, crashed): render the rest here
                    broken.append(job)
                    continue
                except Exception as exc:  # noqa: BLE001 - reported, the others go on
                    result = (job.rel_path, f"worker failed: {type(exc).__name__}: {exc}", 0.0)
                bar.update()
                yield result
            pending = {f for f in pending if not f.cancelled()}
        if broken:
            log.warning("a worker process died; rendering the remaining %d output(s) in this process",
                        len(broken))
            self._pool_broken = True
            self.close()
            for job in broken:
                if self.stop.is_set():
                    break
                bar.update()
                yield render_job(job, self.options.out, self.config, self.registry)
