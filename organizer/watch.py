"""``organizer watch DIR``: keep a folder tidy as files appear.

A file that appears at the top of DIR (created, written, moved in) is placed once it has
been quiet for ``quiet`` seconds (no event, same size and time at two looks).  Each placement
is an ordinary tidy restricted to the files that became quiet (:func:`organizer.run_tidy` with
``only=``): same plan, same write-ahead journal, undone by ``organizer undo DIR`` like any tidy.
The files already in the folder when watching starts are not touched (``organizer tidy DIR``
does that).

A file the user moves back by hand (it reappears where a tidy took it from, and is gone from
where it was put) is left alone from then on: a ``left-alone`` record is appended to the journal
of that tidy, and every watch reads those records when it starts.  Files ``organizer undo``
puts back while watching count as moved back too.

Built on watchdog (like the runner's ``watch`` mode): its thread only queues paths; all work
happens in the caller's thread.  ``stop`` (a :class:`threading.Event`) ends the loop cleanly;
the CLI sets it on Ctrl-C, after the placement in progress (if any) has finished.
"""

from __future__ import annotations

import errno
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import StateError, UsageError
from .journal import Journal, StateDir, read_journal
from .rules import RuleSet
from .tidy import TidyResult, run_tidy

DEFAULT_QUIET = 3.0
LEFT_ALONE = "left-alone"


@dataclass
class WatchStats:
    """What one watch session did."""

    tidies: int = 0
    placed: list[tuple[str, str]] = field(default_factory=list)  # (source, destination)
    left_alone: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class _Handler:
    """watchdog handler: queues the names of top-level entries that appeared or changed; nothing else."""

    def __init__(self, root: Path, events: "queue.SimpleQueue[str]") -> None:
        self.root = os.fsdecode(root)
        self.events = events

    def dispatch(self, event: Any) -> None:
        if event.is_directory or event.event_type in ("deleted", "opened", "closed_no_write"):
            return
        path = getattr(event, "dest_path", "") if event.event_type == "moved" else event.src_path
        path = os.fsdecode(path) if path else ""
        if not path or os.path.dirname(path) != self.root:
            return
        name = os.path.basename(path)
        if name.startswith("."):
            return
        self.events.put(name)


def _moved_back(root: Path, state: StateDir) -> tuple[set[str], dict[str, tuple[Path, str]]]:
    """Names already left alone (records), and for every top-level name a tidy moved away: (journal, destination)."""
    left: set[str] = set()
    moved_from: dict[str, tuple[Path, str]] = {}
    if not state.exists():
        return left, moved_from
    for path in state.journals():
        try:
            raw = path.read_text(encoding="ascii", errors="replace")
            data = read_journal(path)
        except (OSError, StateError):
            continue
        for rec in data.moves:
            if "/" not in rec.src:
                moved_from[rec.src] = (path, rec.dst)
        for line in raw.splitlines():
            if f'"t":"{LEFT_ALONE}"' in line:
                try:
                    left.add(str(json.loads(line)["path"]))
                except (ValueError, KeyError, TypeError):
                    continue
    return left, moved_from


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def make_observer(root: Path, handler: _Handler, poll: float | None = None) -> Any:
    """Start a watchdog observer on ``root`` (not recursive: only its top level is kept tidy)."""
    try:
        if poll:
            from watchdog.observers.polling import PollingObserver
            observer: Any = PollingObserver(timeout=poll)
        else:
            from watchdog.observers import Observer
            observer = Observer()
        observer.schedule(handler, os.fsdecode(root), recursive=False)
        observer.start()
    except OSError as exc:
        hint = " (use --poll SECONDS)" if exc.errno in (errno.ENOSPC, errno.EMFILE) else ""
        raise UsageError(f"{root}: cannot watch for changes: {exc.strerror or exc}{hint}") from None
    return observer


def watch_folder(root: Path, rules: RuleSet, quiet: float = DEFAULT_QUIET, stop: threading.Event | None = None,
                 report: Callable[[str], None] = print, poll: float | None = None,
                 on_tidy: Callable[[TidyResult], None] | None = None,
                 on_ready: Callable[[], None] | None = None) -> WatchStats:
    """Place files that appear in ``root`` once quiet for ``quiet`` seconds, until ``stop`` is set.

    ``on_ready`` is called once the observer listens (files written before that are not seen).
    """
    stop = stop or threading.Event()
    stats = WatchStats()
    state = StateDir(root)
    left, moved_from = _moved_back(root, state)
    events: "queue.SimpleQueue[str]" = queue.SimpleQueue()
    observer = make_observer(root, _Handler(root, events), poll)
    pending: dict[str, tuple[float, tuple[int, int] | None]] = {}  # name -> (last event, signature then)
    tick = min(0.2, quiet / 3) if quiet > 0 else 0.05
    if on_ready is not None:
        on_ready()
    try:
        while not stop.is_set():
            try:
                name = events.get(timeout=tick)
                pending[name] = (time.monotonic(), _signature(root / name))
                while True:  # drain the burst
                    name = events.get_nowait()
                    pending[name] = (time.monotonic(), _signature(root / name))
            except queue.Empty:
                pass
            now = time.monotonic()
            ready = set()
            for name, (when, sig) in list(pending.items()):
                if now - when < quiet:
                    continue
                current = _signature(root / name)
                if current is None:
                    del pending[name]  # gone again
                elif current != sig:
                    pending[name] = (now, current)  # still being written
                else:
                    ready.add(name)
                    del pending[name]
            if not ready:
                continue
            for name in sorted(ready):
                if name in left:
                    ready.discard(name)
                elif name in moved_from and not os.path.lexists(root / moved_from[name][1]):
                    ready.discard(name)  # back where a tidy took it from, and gone from where it was put
                    left.add(name)
                    stats.left_alone.append(name)
                    _record_left_alone(moved_from[name][0], name)
                    report(f"left alone: {name} (moved back by hand; the organizer will not move it again)")
            if not ready:
                continue
            result = run_tidy(root, rules, only=frozenset(ready), skip=frozenset(left))
            if result.done:
                stats.tidies += 1
                if result.journal is not None:
                    for m in result.done:
                        moved_from[m.source] = (result.journal, m.destination)
            for m in result.done:
                stats.placed.append((m.source, m.destination))
                report(f"placed: {m.source} -> {m.destination} ({m.rule}{'; ' + m.why if m.why else ''})")
            for src, reason in result.failed:
                stats.failed.append((src, reason))
                report(f"could not place: {src}: {reason}")
            for rel in result.plan.unmatched:
                report(f"left in place: {rel} (no rule matched)")
            for k in result.plan.kept:
                report(f"left in place: {k.source} ({k.reason})")
            for p in result.problems:
                report(f"check: {p}")
            if on_tidy is not None:
                on_tidy(result)
    finally:
        observer.stop()
        observer.join(timeout=5)
    return stats


def _record_left_alone(journal: Path, name: str) -> None:
    """Append a ``left-alone`` record to the journal of the tidy that had moved ``name`` (if it still exists)."""
    try:
        writer = Journal.append_to(journal)
    except OSError:
        return  # undone meanwhile: remembered for this session only
    try:
        writer.record({"t": LEFT_ALONE, "path": name})
    finally:
        writer.close()


__all__ = ["DEFAULT_QUIET", "WatchStats", "watch_folder"]
