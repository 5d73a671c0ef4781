"""`run_all.py --watch`: keep the figures and tables up to date while evaluations land.

One process, one Pipeline for the whole session: its parse cache stays in memory and its worker
pool is forked once, before watchdog starts any thread (forking a threaded process is unsafe).
File events are only a trigger: each rebuild re-discovers the tree and the Pipeline works out
from sizes, mtimes and data fingerprints what actually changed and which outputs it touches.

- Bursts are coalesced: a rebuild starts once the tree has been quiet for DEBOUNCE seconds
  (or MAX_BATCH seconds after the first event, so a never-ending trickle still shows up).
- The observer starts before the initial scan, so a file written while the first build is still
  loading or drawing is an event like any other (and, in case an event was still missed, a file
  whose size or mtime differs from the initial scan once the first build ends is rebuilt then).
- A file that is unreadable but was modified less than SETTLE seconds ago is taken to be half
  written: nothing is drawn from that rebuild, and it is retried once the file settles; a file
  that stays malformed is reported once (path and reason) and left out of the outputs. A file
  that changed again since the rebuild read it is not reported: the next rebuild reads it anew.
- A burst whose events all name files the last rebuild listed is rebuilt from those files alone:
  they are stat'ed and read into the last table (Pipeline.run's `hint`), the tree is not walked.
  Events are still only a trigger: once the tree has been quiet for VERIFY_AFTER seconds, a rebuild
  walks it, and draws what an event may have missed (silent when nothing was).
- SIGINT / SIGTERM end the session after the outputs in hand are written; exit code 0.
"""
from __future__ import annotations

import errno
import logging
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from utils.config import Config
from utils.errors import UserError
from runner.checks import check_paths
from runner.fingerprint import scan_tree
from runner.pipeline import Pipeline
from runner.report import Options, RunReport

DEBOUNCE = 0.2  # seconds of quiet that end a burst
MAX_BATCH = 5.0  # a burst longer than this is split into several rebuilds
SETTLE = 1.5  # an unreadable file younger than this is probably still being written
VERIFY_AFTER = 2.0  # seconds of quiet after a rebuild that did not walk the tree: then one that does
CACHE_SAVE_INTERVAL = 30.0  # parsed.pickle is a few MB at paper scale: not after every rebuild
_STOP = object()  # queue sentinel: wake the main loop to stop
_IGNORED_EVENTS = ("opened", "closed_no_write")  # our own reads of the tree


def say(message: str) -> None:
    """One timestamped line on stderr (the watch log)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _short(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" +{len(items) - limit} more" if len(items) > limit else "")


def describe(report: RunReport, events: set[str] | None = None) -> str:
    """The one line a rebuild logs: what changed, what was redrawn, how long it took."""
    changes = []
    if report.changed:
        changes.append(f"{len(report.changed)} file(s) new or changed ({_short(report.changed, 3)})")
    if report.gone:
        changes.append(f"{len(report.gone)} file(s) deleted ({_short(report.gone, 3)})")
    if not changes:
        changes.append(f"{len(events)} event(s), no evaluation data changed" if events else "no change")
    drawn = f"redrew {len(report.rendered)} of {report.planned} output(s)"
    if report.rendered:
        drawn += f" ({_short(sorted(report.rendered), 8)})"
    if report.removed:
        drawn += f", removed {len(report.removed)} stale"
    if report.failed:
        drawn += f", {len(report.failed)} FAILED"
    if report.interrupted:
        drawn += ", interrupted"
    return f"rebuild: {'; '.join(changes)} -> {drawn} in {report.seconds:.2f}s"


class _Handler:
    """watchdog event handler: queues the paths of relevant events, nothing else (no work in
    watchdog's thread)."""

    def __init__(self, events: queue.SimpleQueue, ignore_under: Path) -> None:
        self.events = events
        self.ours = _Ours(ignore_under)

    def dispatch(self, event: Any) -> None:
        if event.event_type in _IGNORED_EVENTS or (event.is_directory and event.event_type == "modified"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            name = os.path.basename(path)
            if not path or name.startswith(".") or name.endswith(".tmp"):
                continue  # temporary files: their rename into place is the event that counts
            if self.ours(path):
                continue  # our own outputs, when the output folder sits inside the data root
            self.events.put(path)


class _Ours:
    """Is a path the output folder or below it (as given or with links resolved)?"""

    def __init__(self, out: Path) -> None:
        self.roots = {os.path.abspath(out), str(out.resolve())}

    def __call__(self, path: str) -> bool:
        path = os.path.abspath(path)
        return any(path == root or path.startswith(root + os.sep) for root in self.roots)


def _event_types() -> list[type]:
    """What a rebuild needs to hear about. Not opens and reads: with them, inotify would report
    every directory and file the loader itself opens, and watchdog's thread would spend the GIL
    on thousands of events per rebuild."""
    from watchdog import events as ev  # lazily: watchdog only in watch mode's threads
    return [ev.FileCreatedEvent, ev.FileModifiedEvent, ev.FileClosedEvent, ev.FileDeletedEvent,
            ev.FileMovedEvent, ev.DirCreatedEvent, ev.DirDeletedEvent, ev.DirMovedEvent]


def make_observer(root: Path, handler: _Handler, poll: float | None,
                  factory: Callable[..., Any] | None = None) -> tuple[Any, str]:
    """Start a watchdog observer on root (recursive); returns (observer, description).

    inotify running out of watches or instances becomes a UserError that suggests --poll."""
    try:
        if factory is None:
            if poll:
                from watchdog.observers.polling import PollingObserver as factory
            else:
                from watchdog.observers import Observer as factory
        observer = factory(timeout=poll) if poll else factory()
        observer.schedule(handler, str(root), recursive=True, event_filter=_event_types())
        observer.start()
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EMFILE):
            what = "watches" if exc.errno == errno.ENOSPC else "instances"
            raise UserError(
                f"{root}: cannot watch for changes: the system ran out of inotify {what} "
                f"({errno.errorcode[exc.errno]}: {exc.strerror}). Use --poll SECONDS (e.g. --poll 5) "
                f"to poll instead, or raise the limit: sysctl fs.inotify.max_user_{what}") from None
        raise UserError(f"{root}: cannot watch for changes: {exc}") from None
    kind = (f"polling observer, every {poll:g}s" if poll
            else f"{type(observer).__name__.replace('Observer', '').lower() or 'native'} observer")
    return observer, kind


class _Session:
    """State of one watch session between rebuilds."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.reported: dict[str, str] = {}  # path -> reason already reported
        self.noted: set[str] = set()  # "missing values" notes already said
        self.conflicts: set[str] = set()  # conflicts already said
        self.said: set[str] = set()  # kinds of report.info lines already said
        self.retry_at: float | None = None  # when deferred (half-written) files have settled
        self.verify_at: float | None = None  # when to walk the tree after rebuilds that did not

    def rebuild(self, paths: set[str] | None, first: bool = False) -> RunReport | None:
        """One run (of the files `paths` names, when that is enough: Pipeline.run's hint); after
        the first, an error is reported and the watcher carries on."""
        verifying = not paths and self.verify_at is not None
        try:
            report = self.pipeline.run(defer_unsettled=SETTLE, hint=paths)
        except Exception as exc:  # noqa: BLE001 - e.g. the data root vanished (NFS), a bug
            if first:
                raise
            say(f"rebuild failed: {exc if isinstance(exc, UserError) else f'{type(exc).__name__}: {exc}'}; "
                "retrying on the next change")
            return None
        finally:
            self.verify_at = None if self.pipeline.walked else time.time() + VERIFY_AFTER
        if verifying and report.fast:  # the walk found what the events said: nothing to say
            return report
        if report.deferred:
            latest = max((_mtime(p) for p in report.deferred), default=time.time())
            self.retry_at = max(latest + SETTLE, time.time()) + 0.05
            say(f"waiting for {len(report.deferred)} file(s) still being written "
                f"({_short([self.pipeline.relative(p) for p in report.deferred], 3)})")
            return report
        self.retry_at = None
        say(f"initial run: {report.summary()}" if first else describe(report, paths))
        self.report_problems(report)
        for output, reason in report.failed:
            say(f"FAILED {output}: {reason}")
        return report

    def report_problems(self, report: RunReport) -> None:
        """Each malformed file once (again only if its reason changes), deleted ones silently; each
        file's count of values read as missing once."""
        now = {}
        for path, reason in zip(report.problem_paths, report.problems):
            if path.exists() and not self.changed_since_read(path):
                now[str(path)] = reason
        for path, reason in now.items():
            if self.reported.get(path) != reason:
                say(f"skipped unreadable file: {reason}")
        self.reported = now
        for note in report.notes:
            if note not in self.noted:
                say(f"missing values: {note}")
        self.noted = set(report.notes)
        for conflict in report.conflicts:
            if conflict not in self.conflicts:
                say(f"conflict: {conflict}")
        self.conflicts = set(report.conflicts)
        for line in report.info:  # each kind once per session (the seed numbering)
            kind = line.split(":", 1)[0]
            if kind not in self.said:
                say(line)
                self.said.add(kind)

    def changed_since_read(self, path: Path) -> bool:
        """Has the file been written again since the rebuild read it (a slow writer finishing)?"""
        entry = self.pipeline.parse_cache.entries.get(str(path))
        try:
            st = path.stat()
        except OSError:
            return True
        return entry is None or tuple(entry[:2]) != (st.st_size, st.st_mtime_ns)

    def queue_missed(self, root: Path, out: Path) -> None:
        """Queue files whose stamp differs from the tree the first build scanned: written while the
        observer was still starting, when no event may have come for them."""
        before, now = self.pipeline.last_tree or {}, scan_tree(root) or {}
        ours = _Ours(out)
        for path in sorted(set(before) | set(now)):
            if before.get(path) != now.get(path) and not ours(path):
                self.events.put(path)

    def next_batch(self, stop: threading.Event) -> set[str] | None:
        """Paths of the next burst of events; an empty set when a deferred retry or a walk is due,
        None to stop."""
        first = None
        while first is None:
            if stop.is_set():
                return None
            wait = 0.5
            due = [t for t in (self.retry_at, self.verify_at) if t is not None]
            if due:  # a retry of deferred files, or the walk after rebuilds that did not walk
                wait = min(wait, min(due) - time.time())
                if wait <= 0:
                    return set()
            try:
                first = self.events.get(timeout=wait)
            except queue.Empty:
                continue
            if first is _STOP:
                return None
        batch = {first}
        started = time.monotonic()
        while True:
            timeout = min(DEBOUNCE, started + MAX_BATCH - time.monotonic())
            if timeout <= 0:
                return batch
            try:
                item = self.events.get(timeout=timeout)
            except queue.Empty:
                return batch
            if item is _STOP:
                return None
            batch.add(item)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def watch(config: Config, options: Options, poll: float | None = None) -> int:
    """Bring everything up to date, then rebuild what each burst of file events affects,
    until SIGINT/SIGTERM (exit 0). Setup problems raise UserError (exit 2)."""
    pipeline = Pipeline(config, replace(options, progress=False))
    pipeline.cache_save_interval = CACHE_SAVE_INTERVAL  # and at the end of the session
    pipeline.session = True
    pipeline.wait_for_files = True  # an empty folder is waited on (a folder beside the files is not)
    pipeline.said_inferred = set()  # each inferred task said once per session: only what changed
    session = _Session(pipeline)
    stop = pipeline.stop
    previous: dict[int, Any] = {}

    def on_signal(signum: int, frame: Any) -> None:  # no printing here: not reentrant
        stop.set()
        session.events.put(_STOP)  # SimpleQueue.put is safe in a signal handler

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    observer = None
    try:
        check_paths(options.data, options.out, config)  # before watching: a wrong path is exit 2
        pipeline.start_pool()  # fork before watchdog's threads exist; kept for the whole session
        # Observe first, then scan: a file landing during the first build is an event, not lost.
        observer, kind = make_observer(options.data, _Handler(session.events, options.out), poll)
        first = session.rebuild(None, first=True)
        pipeline.options = replace(pipeline.options, force=False)  # --force: the first run only
        logging.getLogger("utils.loading").setLevel(logging.WARNING)  # per-rebuild discovery chatter
        if stop.is_set():
            say("stopped (signal)")
            return 0
        session.queue_missed(options.data, options.out)
        pipeline.prime()  # the table in memory: the first change is read into it
        if first is not None and first.files == 0:
            say(f"no evaluation files under {options.data} yet; waiting for them")
        say(f"watching {options.data} ({kind}); outputs in {options.out}; Ctrl-C to stop")
        while not stop.is_set():
            paths = session.next_batch(stop)
            if paths is None or stop.is_set():
                break
            if not all(e.is_alive() for e in getattr(observer, "emitters", ())):
                raise UserError(f"{options.data}: the file watcher stopped (inotify limits? see the "
                                "message above); restart with --poll SECONDS")
            session.rebuild(paths or None)
    finally:
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)
        pipeline.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say("stopped" + (" (signal)" if stop.is_set() else ""))
    return 0
