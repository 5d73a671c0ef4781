"""Revert the newest tidy recorded in ``DIR/.organizer`` exactly, even after a crash.

For each move intent, newest first, the file system decides what to do:

* destination present, source free     -> move it back (``git mv`` if git tracks it now);
* source present, destination free     -> the move never happened (or was undone): skip;
* both present, same inode as recorded -> a crash between ``link`` and ``unlink``: drop the extra name;
* both present otherwise / neither     -> conflict: reported, nothing overwritten or deleted.

Then the folders that tidy created are removed if empty, folder times are
restored, and the journal is deleted (the ``.organizer`` folder too when no
older tidy remains).  With conflicts the journal stays and undo can be re-run.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import JournalError, MoveError
from .gitops import find_repo
from .journal import Journal, MoveRecord, StateDir, read_journal
from .mover import Mover, relink_temp_name, split_rel


@dataclass
class UndoResult:
    """What an undo did."""

    journal: Path
    restored: list[tuple[str, str]] = field(default_factory=list)  # (from, back to)
    skipped: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    removed_dirs: list[str] = field(default_factory=list)
    kept_dirs: list[str] = field(default_factory=list)
    remaining_journals: int = 0

    @property
    def ok(self) -> bool:
        return not self.conflicts


def _same(st: os.stat_result | None, rec: MoveRecord) -> bool:
    return st is not None and st.st_dev == rec.dev and st.st_ino == rec.ino


def _ours(st: os.stat_result | None, rec: MoveRecord, mover: Mover, rel: str) -> bool:
    """The entry tidy moved: same inode, or (a re-pointed link gets a new inode) the link with either text."""
    if _same(st, rec):
        return True
    return (rec.link_new is not None and st is not None and stat.S_ISLNK(st.st_mode)
            and mover.readlink(rel) in (rec.link_old, rec.link_new))


def _restore_link_text(mover: Mover, rec: MoveRecord, rel: str, result: "UndoResult") -> None:
    if rec.link_new is not None:  # a temporary link a crash left beside the destination: ours, drop it
        d, n = split_rel(rec.dst)
        tmp = f"{d}/{relink_temp_name(n)}" if d else relink_temp_name(n)
        st = mover.lstat(tmp)
        if st is not None and stat.S_ISLNK(st.st_mode) and mover.readlink(tmp) == rec.link_new:
            mover.unlink(tmp)
    if rec.link_old is None or mover.readlink(rel) != rec.link_new:
        return
    try:
        mover.relink(rel, rec.link_old)
    except MoveError as exc:
        result.conflicts.append(str(exc))


def run_undo(root: Path) -> UndoResult:
    """Undo the newest tidy of ``root`` (an absolute, resolved folder)."""
    state = StateDir(root)
    if not state.exists() or state.latest() is None:
        raise JournalError(f"nothing to undo in {root}: no tidy journal in {root / '.organizer'}")
    state.acquire()
    try:
        path = state.latest()
        assert path is not None
        data = read_journal(path)
        result = UndoResult(journal=path)
        writer = Journal.append_to(path)
        try:
            writer.record({"t": "undo-begin"})
            with Mover(root) as mover:
                _undo_moves(root, data.moves, mover, result)
                for d in reversed(data.mkdirs):
                    st = mover.lstat(d)
                    if st is None:
                        continue
                    if stat.S_ISDIR(st.st_mode) and mover.is_empty_dir(d) and mover.rmdir(d):
                        result.removed_dirs.append(d)
                    else:
                        result.kept_dirs.append(d)
            if result.conflicts:
                writer.record({"t": "undo-incomplete", "conflicts": len(result.conflicts)})
        finally:
            writer.close()
        if result.conflicts:
            result.remaining_journals = len(state.journals())
            return result
        os.unlink(path)
        state.release()
        state.remove_if_unused()
        result.remaining_journals = len(state.journals())
        _restore_dir_times(root, data.header.get("dirs", {}))
        return result
    finally:
        state.release()


def _undo_moves(root: Path, moves: list[MoveRecord], mover: Mover, result: UndoResult) -> None:
    git_back: list[MoveRecord] = []
    tracked: frozenset[str] | None = None
    repo = find_repo(root) if any(m.git for m in moves) else None
    for rec in reversed(moves):
        src = mover.lstat(rec.src)
        dst = mover.lstat(rec.dst)
        if dst is None:
            if src is None:
                result.conflicts.append(f"{rec.src}: missing (neither it nor {rec.dst} exists)")
            else:
                if _ours(src, rec, mover, rec.src):  # moved back before a crash: restore its text too
                    _restore_link_text(mover, rec, rec.src, result)
                result.skipped.append(rec.src)
            continue
        if src is None:
            if not _ours(dst, rec, mover, rec.dst) and rec.status != "done":
                result.conflicts.append(f"{rec.dst}: is not the file tidy moved there; leaving it and {rec.src} alone")
                continue
            if rec.git and repo is not None:
                if tracked is None:
                    tracked = repo.tracked()
                if rec.dst in tracked:
                    git_back.append(rec)
                    continue
            try:
                mover.move(rec.dst, rec.src)
                result.restored.append((rec.dst, rec.src))
            except MoveError as exc:
                result.conflicts.append(str(exc))
                continue
            _restore_link_text(mover, rec, rec.src, result)
            continue
        # Both names exist.
        if _same(src, rec) and _same(dst, rec) and not stat.S_ISDIR(dst.st_mode):
            mover.unlink(rec.dst)  # second hard link from an interrupted link+unlink move
            result.restored.append((rec.dst, rec.src))
        elif _same(src, rec):
            result.skipped.append(rec.src)
        else:
            result.conflicts.append(f"{rec.src}: something new is in its place; {rec.dst} was not moved back")
    if git_back and repo is not None:
        errors = repo.mv([(r.dst, r.src) for r in git_back])
        for rec in git_back:
            if mover.lstat(rec.dst) is None and mover.lstat(rec.src) is not None:
                result.restored.append((rec.dst, rec.src))
                _restore_link_text(mover, rec, rec.src, result)
            else:
                result.conflicts.append(f"{rec.dst}: git mv back to {rec.src} failed" + (f": {errors[0]}" if errors else ""))


def _restore_dir_times(root: Path, dirs: object) -> None:
    if not isinstance(dirs, dict):
        raise JournalError("journal header has a malformed 'dirs' entry")
    for rel, times in sorted(dirs.items(), key=lambda kv: -kv[0].count("/")):
        path = root / rel if rel else root
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                continue
            os.utime(path, ns=(int(times[0]), int(times[1])), follow_symlinks=False)
        except (OSError, ValueError, TypeError, IndexError):
            continue
