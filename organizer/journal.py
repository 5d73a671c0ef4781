"""The write-ahead journal kept in ``DIR/.organizer/`` and the lock around it.

Each tidy appends JSON lines to its own file ``.organizer/journal/NNNNNN.jsonl``:

* ``begin``  - header: format version, folder times to restore on undo;
* ``mkdir``  - intent to create a destination folder (``mkdir-existed`` if it was there);
* ``move``   - intent, written and fsync'd *before* the move: source, destination,
  device and inode of the entry, whether git tracks it;
* ``done`` / ``failed`` - outcome of a move (``done`` is flushed by the next fsync);
* ``end``    - the tidy finished (possibly with failures);
* ``undo-begin`` / ``undo-incomplete`` - an undo started / left conflicts.

Undo never trusts ``done`` alone: it looks at the file system (and the recorded
inode) to see whether each move happened, so a crash between any two steps is
recoverable.  Tidies stack; undo always reverts the newest journal.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import JournalError, StateError

STATE_DIR = ".organizer"
JOURNAL_SUBDIR = "journal"
LOCK_NAME = "lock"
FORMAT_VERSION = 1


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class StateDir:
    """``DIR/.organizer``: journals plus a lock file; hidden, so tidy never touches it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / STATE_DIR
        self.journal_dir = self.path / JOURNAL_SUBDIR
        self._lock_fd: int | None = None

    def exists(self) -> bool:
        return self.path.is_dir() and not self.path.is_symlink()

    def ensure(self) -> bool:
        """Create the state folder (with a ``.gitignore`` of ``*``); True if it was created."""
        created = False
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
            raise StateError(f"{self.path} exists and is not a folder; move it away before tidying")
        try:
            if not self.path.exists():
                os.mkdir(self.path)
                created = True
                (self.path / ".gitignore").write_text("# written by organizer; undo removes this folder\n*\n",
                                                      encoding="utf-8")
            self.journal_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot write the journal in {self.path}: {exc.strerror}; "
                             f"nothing was moved (the organizer needs a writable folder)") from None
        if created:
            _fsync_dir(self.root)
        return created

    def acquire(self) -> None:
        """Take the exclusive lock; a second organizer on the same folder gets a StateError."""
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StateError(f"another organizer is working on {self.root}; wait for it to finish") from None
            raise
        self._lock_fd = fd

    def ensure_unlocked(self) -> None:
        """Raise StateError if another organizer holds the lock (read-only probe for dry runs)."""
        try:
            fd = os.open(self.path / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            raise StateError(f"another organizer is working on {self.root}; wait for it to finish") from None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def journals(self) -> list[Path]:
        """Journal files, oldest first."""
        if not self.journal_dir.is_dir():
            return []
        return sorted(p for p in self.journal_dir.iterdir() if p.name.endswith(".jsonl") and p.name[:-6].isdigit())

    def latest(self) -> Path | None:
        js = self.journals()
        return js[-1] if js else None

    def next_journal_path(self) -> Path:
        js = self.journals()
        n = int(js[-1].name[:-6]) + 1 if js else 1
        return self.journal_dir / f"{n:06d}.jsonl"

    def remove_if_unused(self) -> bool:
        """Remove the whole state folder when no journal is left; True if removed."""
        if self.journals():
            return False
        for p in (self.path / LOCK_NAME, self.path / ".gitignore"):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        try:
            self.journal_dir.rmdir()
            self.path.rmdir()
        except OSError:
            return False
        return True


class Journal:
    """An open, append-only journal file; each ``record`` is one JSON line."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> "Journal":
        """Create a new journal (never over an existing one) and write its fsync'd header."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)
        journal = cls(path, fd)
        journal.record({"t": "begin", "version": FORMAT_VERSION, **header})
        _fsync_dir(path.parent)
        return journal

    @classmethod
    def append_to(cls, path: Path) -> "Journal":
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        return cls(path, fd)

    def record(self, rec: dict[str, Any], sync: bool = True) -> None:
        """Append one record; with ``sync`` it is on disk when this returns."""
        data = (json.dumps(rec, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        if sync:
            os.fsync(self._fd)

    def records(self, recs: list[dict[str, Any]]) -> None:
        """Append several records with a single fsync."""
        for rec in recs:
            self.record(rec, sync=False)
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = -1


@dataclass
class MoveRecord:
    """A move intent read back from a journal."""

    id: int
    src: str
    dst: str
    dev: int
    ino: int
    git: bool
    status: str = "intent"  # intent | done | failed
    link_old: str | None = None  # a re-pointed symlink: its text before the tidy
    link_new: str | None = None  # ... and after


@dataclass
class JournalData:
    """A parsed journal."""

    path: Path
    header: dict[str, Any]
    moves: list[MoveRecord] = field(default_factory=list)
    mkdirs: list[str] = field(default_factory=list)
    ended: bool = False
    undo_started: bool = False


def _safe_rel(value: Any, path: Path, lineno: int) -> str:
    if not isinstance(value, str) or not value:
        raise JournalError(f"{path}:{lineno}: bad path {value!r}; the journal is corrupt")
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts or p.parts[0] == STATE_DIR:
        raise JournalError(f"{path}:{lineno}: path {value!r} is outside the tidied folder; refusing to use this journal")
    return value


def read_journal(path: Path) -> JournalData:
    """Parse a journal; a torn last line (crash mid-write) is ignored, other damage is an error."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"{path}: cannot read journal: {exc.strerror}") from None
    lines = raw.split(b"\n")
    data: JournalData | None = None
    by_id: dict[int, MoveRecord] = {}
    existed: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("ascii"))
            if not isinstance(rec, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            is_last = all(not rest.strip() for rest in lines[n:])
            if is_last:
                break  # torn write at the crash point
            raise JournalError(f"{path}:{n}: unreadable journal line; the journal is corrupt") from None
        kind = rec.get("t")
        if data is None:
            if kind != "begin" or rec.get("version") != FORMAT_VERSION:
                raise JournalError(f"{path}: not an organizer journal (format {FORMAT_VERSION})")
            data = JournalData(path=path, header=rec)
            continue
        try:
            if kind == "move":
                mr = MoveRecord(id=int(rec["id"]), src=_safe_rel(rec["src"], path, n), dst=_safe_rel(rec["dst"], path, n),
                                dev=int(rec["dev"]), ino=int(rec["ino"]), git=bool(rec.get("git", False)),
                                link_old=rec.get("link_old"), link_new=rec.get("link_new"))
                if mr.link_new is not None and not (isinstance(mr.link_old, str) and isinstance(mr.link_new, str)):
                    raise ValueError("bad link texts")
                by_id[mr.id] = mr
                data.moves.append(mr)
            elif kind in ("done", "failed"):
                if int(rec["id"]) in by_id:
                    by_id[int(rec["id"])].status = kind
            elif kind == "mkdir":
                data.mkdirs.append(_safe_rel(rec["path"], path, n))
            elif kind == "mkdir-existed":
                existed.add(rec["path"])
            elif kind == "end":
                data.ended = True
            elif kind == "undo-begin":
                data.undo_started = True
        except (KeyError, TypeError, ValueError):
            raise JournalError(f"{path}:{n}: malformed {kind!r} record; the journal is corrupt") from None
    if data is None:
        raise JournalError(f"{path}: empty journal")
    data.mkdirs = [d for d in data.mkdirs if d not in existed]
    return data


def check_resumable(state: StateDir) -> None:
    """Refuse to tidy on top of an interrupted tidy or undo; the user should undo first."""
    latest = state.latest()
    if latest is None:
        return
    data = read_journal(latest)
    if data.undo_started:
        raise StateError(f"an undo of {state.root} did not finish ({latest.name}); "
                         f"fix what it reported and run 'organizer undo {state.root}' again")
    if not data.ended:
        raise StateError(f"a tidy of {state.root} was interrupted ({latest.name}); "
                         f"run 'organizer undo {state.root}' to restore the previous layout first")
