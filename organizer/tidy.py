"""Carry out a plan: journal first, then move, then record the outcome.

The dry run and the real run call the same :func:`plan_tidy`; the real run then
executes that exact plan under the folder's lock.  Test hook: with
``ORGANIZER_TEST_CRASH_AFTER=N`` the process SIGKILLs itself right after the N-th
move (``ORGANIZER_TEST_CRASH_POINT=before-move`` kills it after writing the N-th
intent but before moving), to prove that undo recovers from a crash at any point.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from .check import Problem, plan_problems
from .errors import MoveError
from .gitops import GitRepo, find_repo
from .journal import Journal, StateDir, check_resumable
from .mover import Mover
from .planner import Move, Plan, plan_tidy
from .rules import RuleSet

CRASH_AFTER_ENV = "ORGANIZER_TEST_CRASH_AFTER"
CRASH_POINT_ENV = "ORGANIZER_TEST_CRASH_POINT"
#: Move intents are fsync'd in batches of this size; each move starts only after its
#: intent is durable.  (An fsync per move costs ~4 ms on ext4 because it commits the
#: renames too; batching keeps 10,000 moves at seconds instead of a minute.)
INTENT_BATCH = 256


@dataclass
class TidyResult:
    """What a tidy did (or, for a dry run, would do)."""

    plan: Plan
    dry_run: bool
    done: list[Move] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    journal: Path | None = None
    #: What ``organizer check`` finds after the moves (for a dry run: on the planned layout).
    problems: list[Problem] = field(default_factory=list)
    relink_failed: list[tuple[str, str]] = field(default_factory=list)  # (moved link, reason): the check lists it

    @property
    def ok(self) -> bool:
        """Every planned move happened (problems found by the check do not change that)."""
        return not self.failed


class _CrashHook:
    """Kill this process at a chosen move, for crash-recovery tests only."""

    def __init__(self) -> None:
        raw = os.environ.get(CRASH_AFTER_ENV, "").strip()
        self.after = int(raw) if raw.isdigit() else None
        self.point = os.environ.get(CRASH_POINT_ENV, "after-move")
        self.count = 0

    def before_move(self) -> None:
        if self.after is not None and self.point == "before-move" and self.count + 1 >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)

    def after_moves(self, n: int = 1) -> None:
        self.count += n
        if self.after is not None and self.point != "before-move" and self.count >= self.after:
            os.kill(os.getpid(), signal.SIGKILL)


def rules_skip(root: Path, rules: RuleSet) -> frozenset[str]:
    """The rules file itself, if it lives in the tidied folder, is never moved."""
    if rules.path is None:
        return frozenset()
    try:
        rel = Path(os.path.realpath(rules.path)).relative_to(root)
    except ValueError:
        return frozenset()
    return frozenset({rel.as_posix()})


def _blocked_failures(plan: Plan) -> list[tuple[str, str]]:
    return [(b.source, b.reason) for b in plan.blocked]


def run_tidy(root: Path, rules: RuleSet, dry_run: bool = False, only: frozenset[str] | None = None,
             skip: frozenset[str] = frozenset()) -> TidyResult:
    """Plan and (unless ``dry_run``) execute a tidy of ``root`` (an absolute, resolved folder).

    ``only`` and ``skip`` (used by ``organizer watch``): move only those files / leave those alone.
    """
    skip = rules_skip(root, rules) | skip
    state = StateDir(root)
    if dry_run:
        if state.exists():
            state.ensure_unlocked()
            check_resumable(state)
        plan = plan_tidy(root, rules, skip, only)
        return TidyResult(plan=plan, dry_run=True, failed=_blocked_failures(plan),
                          problems=plan_problems(plan, plan.moves, rules, after=False))

    root_times = os.stat(root)
    state.ensure()
    state.acquire()
    try:
        check_resumable(state)
        plan = plan_tidy(root, rules, skip, only)
        result = TidyResult(plan=plan, dry_run=False, failed=_blocked_failures(plan))
        if not plan.moves:
            return result
        dir_times = {}
        for rel in plan.touched_dirs():
            st = root_times if rel == "" else os.stat(root / rel, follow_symlinks=False)
            dir_times[rel] = [st.st_atime_ns, st.st_mtime_ns]
        repo = find_repo(root)
        tracked = repo.tracked() if repo is not None else frozenset()
        journal = Journal.create(state.next_journal_path(), {
            "root": os.fsdecode(root),
            "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "rules": rules.source,
            "pid": os.getpid(),
            "dirs": dir_times,
        })
        result.journal = journal.path
        try:
            _execute(plan, journal, Mover(root), repo, tracked, result)
        finally:
            journal.record({"t": "end", "moved": len(result.done), "failed": len(result.failed)})
            journal.close()
        result.problems = plan_problems(plan, result.done, rules, after=True)
        return result
    finally:
        state.release()
        if state.remove_if_unused():  # no journal written (nothing to move): leave no trace
            os.utime(root, ns=(root_times.st_atime_ns, root_times.st_mtime_ns))


def _execute(plan: Plan, journal: Journal, mover: Mover, repo: GitRepo | None,
             tracked: frozenset[str], result: TidyResult) -> None:
    hook = _CrashHook()
    with mover:
        bad_dirs: dict[str, str] = {}
        for d in plan.new_dirs:
            journal.record({"t": "mkdir", "path": d})
            try:
                if not mover.mkdir(d):
                    journal.record({"t": "mkdir-existed", "path": d})
            except MoveError as exc:
                bad_dirs[d] = str(exc)

        def dir_problem(dst: str) -> str | None:
            parts = dst.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                p = bad_dirs.get("/".join(parts[:i]))
                if p:
                    return p
            return None

        git_moves: list[tuple[int, Move]] = []
        fs_moves: list[tuple[int, Move]] = []
        for move_id, move in enumerate(plan.moves, start=1):
            problem = dir_problem(move.destination)
            if problem:
                result.failed.append((move.source, problem))
            elif repo is not None and move.source in tracked:
                git_moves.append((move_id, move))
            else:
                fs_moves.append((move_id, move))

        for start in range(0, len(fs_moves), INTENT_BATCH):
            batch = []
            for move_id, move in fs_moves[start:start + INTENT_BATCH]:
                st = mover.lstat(move.source)
                if st is None:
                    result.failed.append((move.source, "vanished before it could be moved"))
                    continue
                rec = {"t": "move", "id": move_id, "src": move.source, "dst": move.destination,
                       "dev": st.st_dev, "ino": st.st_ino, "git": False}
                if move.relink is not None:
                    rec["link_old"], rec["link_new"] = mover.readlink(move.source), move.relink
                batch.append((move_id, move, rec))
            if not batch:
                continue
            journal.records([rec for _, _, rec in batch])  # one fsync: every intent is on disk before its move
            for move_id, move, _ in batch:
                hook.before_move()
                try:
                    mover.move(move.source, move.destination)
                except MoveError as exc:
                    journal.record({"t": "failed", "id": move_id, "error": str(exc)}, sync=False)
                    result.failed.append((move.source, str(exc)))
                    continue
                hook.after_moves()
                _relink(mover, move, result)
                journal.record({"t": "done", "id": move_id}, sync=False)
                result.done.append(move)

        if git_moves and repo is not None:
            _execute_git(git_moves, journal, mover, repo, hook, result)
    # Keep the report in plan order.
    order = {m.source: i for i, m in enumerate(plan.moves)}
    result.done.sort(key=lambda m: order[m.source])
    result.failed.sort(key=lambda f: order.get(f[0], -1))


def _execute_git(git_moves: list[tuple[int, Move]], journal: Journal, mover: Mover, repo: GitRepo,
                 hook: _CrashHook, result: TidyResult) -> None:
    intents = []
    pending: list[tuple[int, Move, tuple[int, int]]] = []
    for move_id, move in git_moves:
        st = mover.lstat(move.source)
        if st is None:
            result.failed.append((move.source, "vanished before it could be moved"))
            continue
        if mover.lstat(move.destination) is not None:
            result.failed.append((move.source, f"{move.destination} already exists; not overwriting it"))
            continue
        intents.append({"t": "move", "id": move_id, "src": move.source, "dst": move.destination,
                        "dev": st.st_dev, "ino": st.st_ino, "git": True})
        if move.relink is not None:
            intents[-1]["link_old"], intents[-1]["link_new"] = mover.readlink(move.source), move.relink
        pending.append((move_id, move, (st.st_dev, st.st_ino)))
    if not pending:
        return
    journal.records(intents)
    hook.before_move()
    errors = repo.mv([(m.source, m.destination) for _, m, _ in pending])
    hook.after_moves(len(pending))
    for move_id, move, ident in pending:
        dst = mover.lstat(move.destination)
        src = mover.lstat(move.source)
        if src is None and dst is not None and (dst.st_dev, dst.st_ino) == ident:
            _relink(mover, move, result)
            journal.record({"t": "done", "id": move_id}, sync=False)
            result.done.append(move)
        else:
            reason = "git mv refused" + (f": {errors[0]}" if errors else "")
            journal.record({"t": "failed", "id": move_id, "error": reason}, sync=False)
            result.failed.append((move.source, reason))


def _relink(mover: Mover, move: Move, result: TidyResult) -> None:
    """Re-point a moved relative symlink (its old and new text are in the journal intent already)."""
    if move.relink is None:
        return
    try:
        mover.relink(move.destination, move.relink)
    except MoveError as exc:
        result.relink_failed.append((move.destination, str(exc)))


__all__ = ["TidyResult", "run_tidy", "rules_skip"]
