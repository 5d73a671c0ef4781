"""Running one build: load -> analysis views -> output jobs (runner/planning.py) -> render only
what is out of date, in worker processes (runner/render.py).

Each output (figure or table) is fingerprinted from the exact data slice it draws, the source of
its module (and of the project modules that module imports) and the rules it depends on; the
fingerprints live in `<out>/.cache/manifest.json`, so one changed evaluation file redraws only
the outputs whose slice changed, and a module edit redraws only that module's outputs.

A rerun where nothing changed does not even load the data: the manifest also keeps a stamp of
the run's inputs (every evaluation file's size and mtime, a content hash for files whose mtime
was too recent to trust, the code, the rules, the library versions); when the stamp still holds
and every output is on disk, the run ends there. Heavy imports (pandas views, matplotlib) happen
only past that point. The hashes themselves are in runner/fingerprint.py. The walk that lists the
inputs keeps a memo of each folder (`<out>/.cache/folders.pickle`, utils/walk.py: `FolderMemo`), so
a rerun lists only the folders changed since; `--force` lists every folder afresh.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import heapq
import io
import itertools
import logging
import multiprocessing
import os
import stat
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Iterator

from tqdm import tqdm

from runner.checks import check_found, check_outputs, check_paths
from runner.fingerprint import code_hash, code_state, config_hash, files_hash, list_tree, selection_key, tree_of
from runner.manifest import Journal, mark_output_folder, read_manifest, write_manifest
from runner.memory import collecting_less, trim_heap
from runner.render import Job, init_worker, ping, render_job, rowless, shipped, spooled, started
from runner.report import Options, RunReport
from utils.atomic import write_text
from utils.config import Config
from utils.errors import UserError
from utils.filestamp import content_digest, is_racy
from utils.walk import OUTPUT_MARKER, FolderMemo

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from plots.registry import OutputSpec
    from runner.partials import PartMemo
    from utils.loading import LoadResult, ParseCache

log = logging.getLogger(__name__)
TABLE_FILE = "table.npz"  # the last load, in the cache folder (utils/table_snapshot.py)
PARTS_FILE = "parts.pickle"  # the partwise views' parts, in the cache folder (runner/partials.py)
TABLE_DRIFT = 100  # files read into the saved table since it was written, before it is written again
GAPS_OUTPUT = "gaps"  # the manifest's name for tables/gaps.csv (written by the run, not a plot module)
_MAX_STAMPS = 8  # input stamps kept, one per --only selection


class _Clock:
    """Records the seconds since the previous call under a phase name."""

    def __init__(self, into: dict[str, float], start: float) -> None:
        self.into, self.last = into, start

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.into[phase] = round(now - self.last, 3)
        self.last = now


# --- runner side -------------------------------------------------------------------------------

class ReadAsSaved:
    """What a reload from the saved table read, as `_read_as_listed` asks it of a parse cache's
    entries: the files `read` again (their entries), every other file as the saved table read it,
    at its listed stamp (only files whose stamp differed were read again) with its saved digest.
    Stands for 100,000 entries without making them (0.2 s at 100,000 files)."""

    def __init__(self, read: dict[str, tuple], racy: dict[str, str]) -> None:
        self.read, self.racy = read, racy

    def get(self, path: str) -> tuple:
        """The entry of `path`: (size, mtime_ns, reader, digest); size and mtime None for a file
        not read again (its listed stamp)."""
        entry = self.read.get(path)
        return (None, None, "", self.racy.get(path)) if entry is None else entry

    def and_read(self, rows: list[tuple], entries: dict[str, tuple]) -> ReadAsSaved | None:
        """These read as well: the listing `rows` (path first) that a reload in the same session read
        again into the table, at their `entries` (the parse cache's); None when one has no entry
        (then the parse cache speaks for every file)."""
        read = dict(self.read)
        for row in rows:
            entry = entries.get(row[0])
            if entry is None:
                return None
            read[row[0]] = entry
        return ReadAsSaved(read, self.racy)


class Pipeline:
    """Holds what survives between runs in one process (parse cache, manifest, worker pool)."""

    def __init__(self, config: Config, options: Options, pool: Executor | None = None) -> None:
        self.config = config  # during a run: the rules plus the tasks inferred from the data
        self.rules = config  # the rules as given
        self.options = options
        self.cache_dir = options.out / ".cache"
        self.spool_dir = self.cache_dir / "spool"  # rows too many for the pipe, on their way to a worker
        self._parse_cache: ParseCache | None = None
        self._folder_memo: FolderMemo | None = None
        self._part_memo: PartMemo | None = None  # the partwise views' parts (runner/partials.py)
        self._registry: dict[str, OutputSpec] | None = None
        self.manifest, self.stamps = read_manifest(self.cache_dir / "manifest.json")
        self._pool = pool
        self._own_pool = False
        self._pool_broken = False
        self.last_load: LoadResult | None = None
        self.stop = threading.Event()  # set it (e.g. from a signal handler) to end after the job in hand
        self._known_files: set[str] | None = None
        self._carry: tuple[set[str], set[str]] = (set(), set())  # changed, gone of deferred runs
        self._code_hashes: dict[str, str] = {}  # per output, of the code as imported
        self._code_loaded: str | None = None  # code_state() when the modules were imported
        self.cache_save_interval = 0.0  # watch mode: write parsed.pickle (and folders.pickle) at most this often
        self.session = False  # watch mode: runs again and again; the folder memo is kept in memory
        self.wait_for_files = False  # watch mode: an empty data folder is waited on, not an error
        self.last_tree: dict[str, tuple[int, int]] | None = None  # the tree as the last run scanned it
        self._listing: list[tuple] | None = None  # the files under the data root as the last run listed them
        self._listing_index: dict[str, int] | None = None  # a listed file's path -> its row
        self.walked = True  # the last run walked the tree (else it stat'ed only the files of its hint)
        self._reloaded: LoadResult | None = None  # this run's load, when read into the last one's table
        self._checked = False  # the last load passed the seed and baseline checks
        # (size, mtime_ns, reader, digest) of each file read, when not the parse cache's (a saved table)
        self._read_entries: dict[str, tuple] | ReadAsSaved | None = None
        # files this run read into the saved table (0: it is the saved one); None: not from it
        self._table_drift: int | None = None
        self._cache_saved = 0.0
        self._table_saved = -1e9
        self.said_inferred: set[str] | None = None  # watch mode: tasks whose inference was said

    @property
    def reloaded(self) -> bool:
        """The last run read its changed files into the table of the run before (utils/reloading.py)."""
        return self._reloaded is not None and self._reloaded is self.last_load

    # lazily: a no-op run needs neither the plot modules (matplotlib) nor the parse cache
    @property
    def registry(self) -> dict[str, OutputSpec]:
        if self._registry is None:
            from plots.registry import discover  # lazily: pandas, matplotlib
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
            from utils.loading import ParseCache, reading_rules  # lazily: pandas
            self._parse_cache = ParseCache(self.cache_dir / "parsed.pickle", reading_rules(self.config))
        return self._parse_cache

    @property
    def folder_memo(self) -> FolderMemo:
        """What the last walk of the data saw in each folder: loaded once, then kept in memory
        (watch mode runs again and again with one Pipeline)."""
        if self._folder_memo is None:
            self._folder_memo = FolderMemo.load(self.cache_dir / "folders.pickle")
        return self._folder_memo

    @property
    def specs(self) -> list[OutputSpec]:
        names = self.options.only or tuple(self.registry)
        return [self.registry[n] for n in sorted(names)]

    # --- the no-op fast path -------------------------------------------------------------------

    def _stamp_holds(self, code: str, files: str | None) -> RunReport | None:
        """A report of the last run when nothing it read or drew has changed since, else None.
        `files`: the `files_hash` of the tree as listed now (None: no tree)."""
        stamp = self.stamps.get(selection_key(self.config, self.options.data, self.options.only))
        if self.options.force or not stamp or stamp.get("code") != code or files is None:
            return None
        out = self.options.out
        selected = set(self.options.only)
        if not all((out / rel).is_file() for rel, e in self.manifest.items()
                   if not selected or e.get("output") in selected):
            return None
        if not (out / "index.html").is_file():
            return None
        if files != stamp.get("files"):
            return None
        if any(content_digest(Path(p)) != d for p, d in (stamp.get("racy") or {}).items()):
            return None
        last = stamp.get("report") or {}
        return RunReport(files=int(last.get("files", 0)), parsed=0, problems=list(last.get("problems", [])),
                         gaps=list(last.get("gaps", [])), planned=int(last.get("planned", 0)),
                         up_to_date=int(last.get("planned", 0)), strict=self.options.strict, fast=True,
                         problem_paths=[Path(p) for p in last.get("problem_paths", [])],
                         notes=list(last.get("notes", [])), conflicts=list(last.get("conflicts", [])),
                         info=list(last.get("info", [])))

    def _make_stamp(self, files: str | None, racy: dict[str, str] | None, code: str,
                    report: RunReport) -> dict | None:
        """Stamp of the tree as scanned before loading (`files`: its `files_hash`), if the loader read
        exactly those files (`racy`: `_read_as_listed`, None when it did not)."""
        if files is None or racy is None:
            return None
        return {"code": code, "files": files, "racy": racy, "report": {
            "files": report.files, "problems": report.problems, "gaps": report.gaps,
            "planned": report.planned, "problem_paths": [str(p) for p in report.problem_paths],
            "notes": report.notes, "conflicts": report.conflicts, "info": report.info}}

    def _read_as_listed(self, tree: dict[str, tuple[int, int]], result: LoadResult) -> dict[str, str] | None:
        """When the loader read exactly the files of `tree` as it stamps them: the content digests
        of the files too recent for their stamp to vouch for them (path -> digest); else None."""
        entries = self.parse_cache.entries if self._read_entries is None else self._read_entries
        racy: dict[str, str] = {}
        # a reload from the saved table read again only the files whose stamp was not the listed one
        for path in entries.read if isinstance(entries, ReadAsSaved) else result.paths:
            entry = entries.get(path)
            if entry is None or tuple(entry[:2]) != tree.get(path):
                return None  # changed (or vanished) while this run read it: check fully next time
        now = time.time()
        for path, (_, mtime_ns) in tree.items():
            if is_racy(mtime_ns, now):
                entry = entries.get(path)
                digest = entry[3] if entry is not None and entry[3] is not None else content_digest(Path(path))
                if digest is None:
                    return None
                racy[path] = digest
        return racy

    # --- the run ---------------------------------------------------------------------------------

    def run(self, defer_unsettled: float = 0.0, hint: Collection[str] | None = None) -> RunReport:
        """Bring every selected output up to date; never raises for a bad file or a broken module.

        With `defer_unsettled` > 0 (watch mode), a run that finds an unreadable file modified
        less than that many seconds ago renders nothing (report.deferred): the writer is
        probably not done, so the caller retries once it settles.

        `hint` (watch mode): the paths file events named since the last run. When each is a file
        the last run listed, only those are stat'ed (the tree is not walked) and, where they
        still read as before but for their numbers, read into the last run's table
        (utils/reloading.py) instead of building it whole.

        The cyclic garbage collector runs less often meanwhile (`runner.memory.collecting_less`).
        """
        with collecting_less():
            return self._run(defer_unsettled, hint)

    def _run(self, defer_unsettled: float, hint: Collection[str] | None) -> RunReport:
        start = time.perf_counter()
        self.config = self.rules
        check_paths(self.options.data, self.options.out, self.config)  # before any reading or writing
        code = code_state(self.config)
        if self.options.force:  # trust no remembered folder: list each afresh (and remember that)
            self._folder_memo = FolderMemo()
        # before loading: the stamp must not be newer than the data
        listing, changed_rows = self._relisted(hint) if hint and not self.options.force else (None, None)
        self.walked = listing is None
        if listing is None:
            listing = list_tree(self.options.data, self.folder_memo)
        self._listing, self._listing_index = listing, None
        tree = None if listing is None else tree_of(listing)
        self.last_tree = tree
        # hashed once: a run that finds its stamp stale makes the new one of the same tree (0.1 s at 100,000 files)
        files = None if tree is None else files_hash(tree.items())
        fast = None if changed_rows else self._stamp_holds(code, files)  # a file changed: it cannot hold
        if fast is not None:
            self._save_folder_memo()
            fast.seconds = time.perf_counter() - start
            return fast
        report = RunReport(strict=self.options.strict)
        clock = _Clock(report.timings, start)
        registry = self.registry  # imports the plot modules (and validates --only) before forking
        check_outputs(self.options.out, self.specs, self.config.plot_format)  # before anything is written
        if code != self._code_loaded and self._code_loaded is not None:
            log.warning("the plot or analysis code changed on disk since this process started; "
                        "outputs are still drawn with the code it loaded: restart to use the new code")
            self._code_loaded = code  # say it once per change
        pool = self._executor()
        clock("check")
        from utils.loading import load  # lazily, as all below: past the no-op path, pandas
        result = self._reloaded = None
        # A session's table read from the saved one (`prime`) holds rows the parse cache never saw (a
        # one-shot rerun reads a changed file into the saved table only): what it was read at is kept,
        # with the files each reload reads again, or the table could not be vouched for and is dropped.
        read_before = self._read_entries
        self._read_entries, self._table_drift = None, None
        if changed_rows and self._checked:
            from utils.reloading import reload
            result = self._reloaded = reload(self.last_load, self.options.data, self.config, self.parse_cache,
                                             changed_rows)
            if result is not None and isinstance(read_before, ReadAsSaved):
                self._read_entries = read_before.and_read(changed_rows, self.parse_cache.entries)
        elif self.last_load is None and listing is not None and not self.options.force:
            result = self._reloaded = self._from_saved_table(listing)
        self._checked = False
        if result is None:
            result = load(self.options.data, self.config, self.parse_cache, pool=pool, listing=listing)
        clock("load")
        self.last_load = result
        if not self.session:  # read once: saved and let go before the views (91 MB at 5 M log records)
            self._let_go_of_parse_cache()
        from utils.conflicts import resolve_conflicts
        frame, records, conflicts = resolve_conflicts(result.frame, self.options.data)  # the newer wins
        report.conflicts = [str(c) for c in conflicts]
        from utils.inference import with_inferred
        self.config = with_inferred(self.rules, frame, said=self.said_inferred)  # what rules.yaml does not list
        report.files, report.parsed = len(result.paths), len(result.parsed)
        report.empty = [str(p) for p in result.empty]
        if not result.paths:
            check_found(self.options.data, 0, self.config, allow_empty=self.wait_for_files)
            report.seconds = time.perf_counter() - start  # watch mode: nothing yet, nothing to draw
            return report
        report.problems = [str(p) for p in result.problems]
        report.notes = [str(p) for p in result.notes]
        report.problem_paths = [p.path for p in result.problems]
        now_files = set(result.paths)
        changed = self._carry[0] | {self.relative(p) for p in result.parsed}
        gone = self._carry[1] | ({self.relative(Path(p)) for p in self._known_files - now_files}
                                 if self._known_files is not None else set())
        report.changed, report.gone = sorted(changed), sorted(gone)
        self._known_files = now_files
        report.deferred = self.unsettled(report, defer_unsettled) if defer_unsettled > 0 else []
        if report.deferred:  # nothing drawn from half a file; the caller retries once it settles
            self._carry = (changed, gone)
            self._save_caches()
            report.seconds = time.perf_counter() - start
            return report
        self._carry = (set(), set())
        from analysis.scores import BaselineError, Gaps, check_baselines
        from analysis.seeds import SeedClaimError, check_seed_claims
        try:  # two runs claiming one experiment and seed: a UserError naming both (exit 2)
            if result is not self._reloaded:  # a reload keeps every file's experiment: checked already
                check_seed_claims(result.frame, self.config)
                check_baselines(result.frame, self.config)  # a baseline no run has: exit 2, close matches named
        except (SeedClaimError, BaselineError):
            self._save_caches(force=True)
            raise
        self._checked = True

        mark_output_folder(self.options.out)  # before the first output: ours, never read as data
        if not self.session:  # the memo is not needed again: saved and let go (64 MB at 217,000 folders)
            self._save_folder_memo()
            self._folder_memo = None
        from analysis.views import still_needed
        from runner.planning import ViewCache, view_order  # lazily: pandas and the analysis views
        gaps = Gaps()
        # the views see the data root this run read (--data): a finding reads a results file's settings
        view_config = dataclasses.replace(self.config, data_root=Path(self.options.data))
        views = ViewCache(frame, view_config, gaps, records=records, given={"files": result.status_frame()},
                          partials=self._partials(code, view_config))
        out = self.options.out
        wanted: set[str] = set()  # every output this run plans, drawn or up to date
        blocked: set[str] = set()  # outputs whose view failed: left as they are, retried next run
        todo: dict[str, tuple[Job, dict]] = {}  # each output to draw: its job without rows, what it shows
        spent = {"views": 0.0, "plan": 0.0}
        planned_all = False
        # the records' row hashes: kept with a table built file by file (the next run splices them)
        hashes = {"metrics": result.row_hashes} if result.by_file and records is result.frame else {}

        def batches() -> Iterator[list[Job]]:
            """Per view: compute it, plan its outputs, hand over those out of date; the workers
            draw the first outputs while the later views are computed."""
            nonlocal planned_all
            order = view_order({s.needs for s in self.specs})
            for at, name in enumerate(order):
                views.release(still_needed(order[at:], views.done))
                t0 = time.perf_counter()
                view = views.get(name)
                trim_heap()  # what the view's computation freed inside the heap (runner/memory.py)
                t1 = time.perf_counter()
                spent["views"] += t1 - t0
                if view is None:
                    for spec in (s for s in self.specs if s.needs == name):
                        blocked.add(spec.name)
                        pattern = spec.writes.format(**{k: "*" for k in spec.per})
                        ext = f".{self.config.plot_format}" if spec.kind == "figure" else ""
                        report.failed.append((pattern + ext, views.errors[name]))
                    continue
                jobs = self.plan({name: view}, hashes)
                if name in hashes:  # the records' hashes, given or computed by planning
                    result.row_hashes = hashes[name]
                fresh = [j for j in jobs if self.options.force
                         or self.manifest.get(j.rel_path, {}).get("fingerprint") != j.fingerprint
                         or not (out / j.rel_path).is_file()]
                wanted.update(j.rel_path for j in jobs)
                report.planned += len(jobs)
                report.up_to_date += len(jobs) - len(fresh)
                shows: dict[int, dict[str, list[str]]] = {}  # outputs of one slice show the same: worked out once
                for j in fresh:
                    if id(j.data) not in shows:
                        shows[id(j.data)] = self._shows(j)
                    todo[j.rel_path] = (dataclasses.replace(j, data=rowless(j.data), rows=None), shows[id(j.data)])
                del shows
                spent["plan"] += time.perf_counter() - t1
                yield fresh
                del view, jobs, fresh  # not held while the next view is computed (the jobs own their rows)
            views.release(set())  # every output planned: the workers draw from their jobs' rows
            planned_all = True
            if not self.session:  # while the workers draw the last outputs, not after (a session saves at intervals)
                self._save_part_memo()

        journal = Journal(self.cache_dir / "manifest.json")  # each output recorded as it is written
        try:
            for rel, error, seconds in self._render(batches()):
                job, shows = todo[rel]
                if error is None:
                    report.rendered.append(rel)
                    self.manifest[rel] = self._entry(job, seconds, shows)
                else:
                    report.failed.append((rel, error))
                    self.manifest.pop(rel, None)
                journal.record(rel, self.manifest.get(rel))
        finally:
            journal.close()
        gaps_known = views.computed("scores")  # the gaps are found while the scores are computed
        views.done.clear()  # the views are not needed past this point
        listed = None if tree is None else self._read_as_listed(tree, result)  # for the table and the stamp
        saving = self._save_table(tree, result, listed)  # in a thread, beside the saves below (not at the views' peak)
        report.gaps = gaps.lines()
        report.info = [n for n in (gaps.seed_note(),) if n]
        if planned_all:  # else some wanted outputs are unknown: none may be removed as stale
            self._write_gaps(gaps, report, wanted, gaps_known)
            self._remove_stale(wanted, report, keep=blocked)
        clock("render")
        # views and planning ran between the workers' jobs: "render" is the rest of the wall time
        report.timings.update({k: round(v, 3) for k, v in spent.items()})
        report.timings["render"] = round(report.timings["render"] - spent["views"] - spent["plan"], 3)
        report.interrupted = self.stop.is_set() and (
            not planned_all or len(report.rendered) + len(report.failed) < len(todo))
        self._save_caches()
        report.seconds = time.perf_counter() - start
        key = selection_key(self.rules, self.options.data, self.options.only)
        stamp = None if report.failed or report.interrupted else self._make_stamp(files, listed, code, report)
        self.stamps.pop(key, None)
        if stamp is not None:
            self.stamps[key] = stamp
            while len(self.stamps) > _MAX_STAMPS:
                self.stamps.pop(next(iter(self.stamps)))
        if saving is not None:
            saving.join()
        last_run = self._last_run(report)
        write_manifest(self.cache_dir / "manifest.json", self.manifest, self.stamps, last_run)
        from runner.gallery import write_gallery  # lazily: pandas (analysis.views)
        write_gallery(out, registry, {r: e for r, e in self.manifest.items() if e.get("output") != GAPS_OUTPUT},
                      last_run, self.config)
        clock("save")
        return report

    def prime(self) -> None:
        """Watch mode, after a first run that found every output up to date (and so loaded nothing):
        read the table the last run kept now, while nothing changes, so the first change is read
        into it rather than waiting for a whole load. Without a kept table (a training-log tree,
        whose table is sorted whole and so never read into), or one that does not check cleanly,
        the first change loads whole."""
        if self.last_load is not None or self._listing is None or self.stop.is_set():
            return
        from analysis.scores import check_baselines
        from analysis.seeds import check_seed_claims
        try:
            result = self._from_saved_table(self._listing)
            if result is None:
                return
            check_seed_claims(result.frame, self.rules)
            check_baselines(result.frame, self.rules)
        except (UserError, OSError):  # said by the next run, which loads whole
            return
        self.last_load, self._checked = result, True
        self.parse_cache  # noqa: B018 - read now, not by the first change (its reload stores its parse there)
        if self._known_files is None:
            self._known_files = set(result.paths)

    def _from_saved_table(self, listing: list[tuple]) -> LoadResult | None:
        """The table the last run saved (utils/table_snapshot.py) with the files changed since read
        into it, when no file was added or removed since; None to load whole. The parse cache is
        not read: the changed files are parsed into one of their own (`_read_entries` then says
        what was read)."""
        from utils.loading import ParseCache
        from utils.reloading import reload
        from utils.table_snapshot import read_table, table_key
        saved = read_table(self.cache_dir / TABLE_FILE, table_key(self.rules, self.options.data))
        if saved is None:
            return None
        changed = saved.changed(listing)
        if changed is None:
            return None
        own = ParseCache()
        previous = saved.result
        # the saved table is this run's alone: the changed files are spliced into its arrays
        result = reload(previous, self.options.data, self.rules, own, changed, saved.columns) if changed else previous
        if result is not None:  # a table kept without its row hashes is written again with them
            self._table_drift = len(changed) if previous.row_hashes is not None else None
            self._read_entries = ReadAsSaved(own.entries, saved.racy)
        return result

    def _relisted(self, hint: Collection[str]) -> tuple[list[tuple] | None, list[tuple] | None]:
        """The last run's listing with the files `hint` names stat'ed again, and the rows that
        changed; (None, None) when a path is not a file that listing holds (a new file, one gone,
        a folder): then the tree is walked."""
        if self._listing is None:
            return None, None
        if self._listing_index is None:
            self._listing_index = {row[0]: i for i, row in enumerate(self._listing)}
        listing, changed = list(self._listing), []
        for path in hint:
            i = self._listing_index.get(path)
            if i is None:  # named another way (`./`, `//`)
                normal = os.path.normpath(path)
                i = next((j for j, row in enumerate(listing) if os.path.normpath(row[0]) == normal), None)
            if i is None:
                return None, None
            full, rel = listing[i][:2]
            try:
                st = os.stat(full)
            except OSError:
                return None, None
            if not stat.S_ISREG(st.st_mode):
                return None, None
            if (st.st_size, st.st_mtime_ns) != listing[i][2:]:
                listing[i] = (full, rel, st.st_size, st.st_mtime_ns)
                changed.append(listing[i])
        return listing, changed

    def _save_table(self, tree: dict[str, tuple[int, int]] | None, result: LoadResult,
                    racy: dict[str, str] | None) -> threading.Thread | None:
        """Keep this run's table for the next (utils/table_snapshot.py), written by a thread the
        caller joins: when it is the load of exactly the files the listing stamped (`racy`:
        `_read_as_listed`, None when it is not), built file by file, and new (at most every
        `cache_save_interval` seconds); else remove a table this run could not vouch for."""
        target = self.cache_dir / TABLE_FILE
        if tree is None or racy is None or not result.by_file:
            target.unlink(missing_ok=True)  # its stamps may still match files it does not reflect
            return None
        if self._table_drift is not None and self._table_drift < TABLE_DRIFT:
            # the saved table itself, or it with a few files read into it: the next run reads those
            # again (a few ms each) rather than this run writing the table again (180 MB, ~0.6 s, at
            # 100,000 files)
            return None
        now = time.monotonic()
        if self.cache_save_interval and now - self._table_saved < self.cache_save_interval:
            return None
        self._table_saved = now
        from utils.table_snapshot import table_arrays, table_key, write_arrays
        arrays = table_arrays(result, tree, racy, table_key(self.rules, self.options.data))

        def save() -> None:
            try:
                write_arrays(target, arrays)
            except OSError as exc:  # the next run loads whole; nothing else depends on it
                log.warning("could not keep the table for the next run in %s: %s", target, exc)
        thread = threading.Thread(target=save, name="save-table")
        thread.start()
        return thread

    def _let_go_of_parse_cache(self) -> None:
        """Write the parse cache and keep only each file's stamp (what `_read_as_listed` needs): a
        one-shot run does not read it again, and it would be held through the views."""
        cache = self._parse_cache
        if cache is None:
            return
        cache.save()
        self._read_entries = {path: entry[:4] for path, entry in cache.entries.items()}
        self._parse_cache = None

    def _partials(self, code: str, config: Config) -> PartMemo:
        """The partwise views' parts the last run kept (runner/partials.py), for this code and
        these rules; read once a session, started afresh when either changed or with --force."""
        from runner.partials import PartMemo
        key = hashlib.blake2b(f"{code}|{config!r}|{config_hash(config)}".encode(), digest_size=16).hexdigest()
        if self.options.force:
            self._part_memo = PartMemo(key)
        elif self._part_memo is None or self._part_memo.key != key:
            self._part_memo = PartMemo.load(self.cache_dir / PARTS_FILE, key)
        return self._part_memo

    def _save_caches(self, force: bool = False) -> None:
        """Write parsed.pickle, folders.pickle and parts.pickle (at most every
        `cache_save_interval` seconds); the parse cache only when this run read it."""
        now = time.monotonic()
        if force or now - self._cache_saved >= self.cache_save_interval:
            if self._parse_cache is not None:
                self._parse_cache.save()
            self._save_folder_memo()
            self._save_part_memo()
            self._cache_saved = now

    def _save_part_memo(self) -> None:
        """Write parts.pickle if the partwise views' parts changed (into an output folder of ours)."""
        if self._part_memo is not None and (self.options.out / OUTPUT_MARKER).is_file():
            self._part_memo.save(self.cache_dir / PARTS_FILE)

    def _save_folder_memo(self) -> None:
        """Write the folder memo if it changed, into an output folder marked as ours only: the
        memo is never the first thing a run writes, nor written where the run may not write."""
        if self._folder_memo is not None and self._folder_memo.dirty \
                and (self.options.out / OUTPUT_MARKER).is_file():
            self._folder_memo.save(self.cache_dir / "folders.pickle")

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

    @staticmethod
    def _shows(job: Job) -> dict[str, list[str]]:
        """What an output's rows show, for its manifest entry: worked out as it is planned, so the
        rows need not be held until it is drawn."""
        from utils.labels import present  # lazily: pandas

        def values(col: str) -> list[str]:
            return sorted(map(str, present(job.data[col]))) if col in job.data.columns else []
        return {"experiments": values("experiment"), "conditions": values("condition"), "tasks": values("task"),
                # runs without a baseline: the models and (canonical) metric names a figure shows
                "runs": values("model"), "metrics": values("name")}

    def _entry(self, job: Job, seconds: float, shows: dict[str, list[str]]) -> dict:
        """What the manifest remembers of a drawn output: its fingerprint and what it was drawn from."""
        return {"fingerprint": job.fingerprint, "output": job.spec_name, "keys": job.keys,
                "drawn": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "seconds": round(seconds, 3), **shows}

    def _last_run(self, report: RunReport) -> dict:
        return {"rendered": report.rendered, "failed": [o for o, _ in report.failed],
                "problems": report.problems, "gaps": report.gaps, "conflicts": report.conflicts,
                "files": report.files,
                "seconds": round(report.seconds, 3), "timings": report.timings,
                "changed": report.changed, "gone": report.gone,
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def _write_gaps(self, gaps: Any, report: RunReport, wanted: set[str], known: bool) -> None:
        """tables/gaps.csv, every gap one row, when the report folded some gap lines into counts
        (the lines name the table); recorded in the manifest, and removed once the gaps are known
        (`known`: this run computed the scores) and no line needs it."""
        from analysis.scores import GAP_COLUMNS, TABLE
        if not any(TABLE in line for line in report.gaps):
            if known and self.manifest.get(TABLE, {}).get("output") == GAPS_OUTPUT:
                (self.options.out / TABLE).unlink(missing_ok=True)
                del self.manifest[TABLE]
                report.removed.append(TABLE)
            elif TABLE in self.manifest:
                wanted.add(TABLE)  # not known this run: kept as it is
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, GAP_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(gaps.rows())
        text = buf.getvalue()
        fingerprint = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        wanted.add(TABLE)
        if self.manifest.get(TABLE, {}).get("fingerprint") == fingerprint and (self.options.out / TABLE).is_file():
            return
        write_text(self.options.out / TABLE, text)
        self.manifest[TABLE] = {"fingerprint": fingerprint, "output": GAPS_OUTPUT, "keys": {},
                                "drawn": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}

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

    def plan(self, views: dict[str, pd.DataFrame], hashes: dict[str, np.ndarray | None] | None = None) -> list[Job]:
        """One fingerprinted job per selected output file of these views (`hashes`: see plan_jobs)."""
        from runner.planning import plan_jobs  # lazily: pandas and the analysis views
        return plan_jobs(self.specs, views, self.config, self.rules, self._code_hashes, hashes)

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
        pool = self._executor(warm=True)  # the workers wait for the first change: they warm up meanwhile
        if pool is not None and self._own_pool:
            for fut in [pool.submit(ping) for _ in range(self.workers)]:
                fut.result()
        return pool

    def _executor(self, warm: bool = False) -> Executor | None:
        if self._pool is not None or self._pool_broken:
            return self._pool
        if self.workers <= 1:
            return None
        self.registry  # noqa: B018 - import the plot modules once, before forking: workers inherit them
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                         initializer=init_worker, initargs=(self.config.plot_modules, warm))
        self._own_pool = True
        # A first job forks every worker now (a fork pool starts them all at its first job), so their
        # start-up (importing pyplot) runs beside this process's loading and analysis, not after it.
        self._pool.submit(started)
        return self._pool

    def close(self) -> None:
        """Stop the worker pool (outputs in hand are finished, queued ones dropped); save the cache."""
        if self._parse_cache is not None:
            self._save_caches(force=True)
        else:
            self._save_folder_memo()
        if self._own_pool and self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._own_pool = False

    def _render(self, batches: Iterable[list[Job]]) -> Iterator[tuple[str, str | None, float]]:
        """(output, error or None, seconds) per job, as they finish; `batches` come one per view."""
        bar = tqdm(total=0, desc="rendering", unit="file", leave=False,
                   disable=None if self.options.progress else True)
        pool = self._executor()
        from runner.planning import render_priority  # lazily: pandas
        kinds = {s.name: s.kind for s in self.specs}

        def priority(job: Job) -> tuple[bool, float, int]:
            return render_priority(kinds.get(job.spec_name, ""), self.manifest.get(job.rel_path, {}).get("seconds"),
                                   len(job.data))

        try:
            if pool is None:
                jobs = []
                for batch in batches:
                    jobs += batch
                    if self.stop.is_set():
                        break
                bar.total = len(jobs)
                for job in sorted(jobs, key=priority):
                    if self.stop.is_set():
                        break
                    sent = shipped(job, self.registry[job.spec_name], self.options.out, self.options.force)
                    result = render_job(sent, self.options.out, self.config, self.registry)
                    bar.update()
                    yield result
            else:
                yield from self._render_pool(pool, batches, priority, bar)
        finally:
            bar.close()

    def _render_pool(self, pool: Executor, batches: Iterable[list[Job]],
                     priority: Callable[[Job], tuple[bool, float, int]],
                     bar: Any) -> Iterator[tuple[str, str | None, float]]:
        """Feed the workers while the batches are still being computed: at most two jobs per
        worker are in the pool at a time, the rest wait here, best first (`priority`; a held job
        keeps the rank its rows gave it)."""
        queue: list[tuple[tuple[bool, float, int], int, Job]] = []
        running: dict[Future, Job] = {}  # a spooled job as sent: its file is removed once it is done
        # an output of many rows (spooled) but a table waits, as sent, until every view is let go: the
        # view it came from and the worker reading its rows are then not held side by side (log tree:
        # ~300 MB). Tables go at once: a watcher opens them first, and metrics.csv is read in slices
        held: list[tuple[tuple[bool, float, int], Job]] = []  # with its priority as planned (with its rows)
        from runner.spool import remove_stale
        remove_stale(self.spool_dir)
        broken: list[Job] = []
        order = itertools.count()
        feed = iter(batches)
        more = True

        while more or queue or running or held:
            if self.stop.is_set():  # finish what the workers hold, drop the rest
                more = False
                queue.clear()
                for _, job in held:
                    _unlink(job.spooled_to)
                held.clear()
                for fut in list(running):
                    if fut.cancel():
                        _unlink(running.pop(fut).spooled_to)
            elif more:
                batch = next(feed, None)
                if batch is None:
                    more = False
                else:
                    for job in batch:
                        heapq.heappush(queue, (priority(job), next(order), job))
                    bar.total += len(batch)
                    bar.refresh()
                    batch = job = None  # the queue holds the jobs: no rows kept here past their drawing
            if not more and held:
                for rank, job in held:
                    heapq.heappush(queue, (rank, next(order), job))
                held.clear()
            while queue and len(running) < 2 * self.workers and not broken:
                rank, _, job = heapq.heappop(queue)
                sent = spooled(shipped(job, self.registry[job.spec_name], self.options.out, self.options.force),
                               self.spool_dir)
                if more and sent.spooled_to is not None and self.registry[job.spec_name].kind != "table":
                    held.append((rank, sent))
                else:
                    self._submit(pool, job, sent, running, broken)
            if broken:  # the pool is gone: the rest is drawn in this process, below
                broken += [j for _, _, j in sorted(queue)] + [j for _, j in held]
                queue.clear()
                held.clear()
            if not running:
                continue
            done, _ = wait(running, timeout=0 if more else 0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                job = running.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:  # a worker died (killed, crashed): render the rest here
                    broken.append(job)  # a spooled job is drawn from its file: removed after that
                    continue
                except Exception as exc:  # noqa: BLE001 - reported, the others go on
                    result = (job.rel_path, f"worker failed: {type(exc).__name__}: {exc}", 0.0)
                _unlink(job.spooled_to)
                bar.update()
                yield result
            job = None
        if broken:
            log.warning("a worker process died; rendering the remaining %d output(s) in this process",
                        len(broken))
            self._pool_broken = True
            self.close()
            try:
                for job in broken:
                    if self.stop.is_set():
                        break
                    bar.update()
                    yield render_job(job, self.options.out, self.config, self.registry)
            finally:
                for job in broken:
                    _unlink(job.spooled_to)

    def _submit(self, pool: Executor, job: Job, sent: Job, running: dict[Future, Job], broken: list[Job]) -> None:
        """Hand one job to the pool as `sent` (`shipped`, and `spooled`: its rows through a spool file
        when many, runner/spool.py); a spooled job is kept as sent, its rows in the file and not in
        this process meanwhile."""
        spool = sent.spooled_to
        try:
            fut = pool.submit(render_job, sent, self.options.out, self.config)
        except BrokenProcessPool:
            broken.append(job)
            if job.spooled_to is None:  # the job keeps its rows; a job held as sent keeps its file
                _unlink(spool)
            return
        running[fut] = job if spool is None else sent


def _unlink(path: Path | None) -> None:
    """Remove a spool file this run wrote (its worker is done with it)."""
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass
