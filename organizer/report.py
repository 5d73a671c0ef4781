"""Human and JSON output for tidy and undo results."""

from __future__ import annotations

import json

from .check import CheckResult, Problem
from .planner import Move
from .tidy import TidyResult
from .undo import UndoResult


def moves_json(moves: list[Move]) -> str:
    """The JSON list printed by ``--json``: ``[{"source", "destination", "rule"}, ...]``."""
    return json.dumps([m.as_json() for m in moves], indent=2, ensure_ascii=False)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A plain left-aligned text table."""
    widths = [len(h) for h in header]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [header, tuple("-" * w for w in widths), *rows]:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def moves_table(moves: list[Move], why: bool = False) -> str:
    """Source, destination, rule (with ``why``: the evidence too; a note column when there are duplicates)."""
    has_notes = any(m.duplicate_of for m in moves)
    header: tuple[str, ...] = ("SOURCE", "DESTINATION", "RULE") + (("WHY",) if why else ()) \
        + (("NOTE",) if has_notes else ())
    rows = []
    for m in moves:
        row: tuple[str, ...] = (m.source, m.destination, m.rule) + ((m.why,) if why else ())
        if has_notes:
            row += (f"duplicate of {m.duplicate_of}" if m.duplicate_of else "",)
        rows.append(row)
    return table(rows, header)


def tidy_summary(result: TidyResult) -> str:
    """One line: moved N, unmatched M listed, duplicates, failures."""
    plan = result.plan
    moved = len(plan.moves) if result.dry_run else len(result.done)
    verb = "would move" if result.dry_run else "moved"
    line = (f"{verb} {moved}, unmatched {len(plan.unmatched)} (listed, left in place), "
            f"duplicates {len(plan.duplicates)}, failures {len(result.failed)}")
    if plan.kept:
        line += f", kept for references {len(plan.kept)}"
    if result.problems:
        line += f", check problems {len(result.problems)}"
    return line


def tidy_details(result: TidyResult) -> list[str]:
    """Lines listing unmatched files and failures (each named with its reason)."""
    plan = result.plan
    lines = []
    if plan.unmatched:
        lines.append("unmatched (no rule matched; left where they are):")
        for rel in plan.unmatched:
            note = plan.notes.get(rel)
            lines.append(f"  {rel}" + (f"  ({note})" if note else ""))
    if plan.kept:
        lines.append("kept in place (a rule matched, but moving them would break references):")
        for k in plan.kept:
            lines.append(f"  {k.source}  ({k.rule}; {k.reason})" if k.reason else f"  {k.source}  ({k.rule})")
    if result.failed:
        lines.append("could not move (left where they are):" if not result.dry_run else "would fail (left where they are):")
        for src, reason in result.failed:
            lines.append(f"  {src}: {reason}")
    if result.relink_failed:
        lines.append("moved, but the link could not be re-pointed (the check lists it):")
        lines.extend(f"  {rel}: {reason}" for rel, reason in result.relink_failed)
    if result.problems:
        lines.extend(problem_lines(result.problems, "check after the moves" if not result.dry_run
                                   else "check of the planned layout"))
    return lines


def problem_lines(problems: list[Problem], what: str) -> list[str]:
    """``what``: N problems, then one indented line per problem."""
    lines = [f"{what}: {len(problems)} problem{'s' if len(problems) != 1 else ''} "
             f"(scripts that may not run from their folder):"]
    lines.extend(f"  {p}" for p in problems)
    return lines


def check_lines(result: CheckResult) -> list[str]:
    """Output of ``organizer check``: the problems, then a summary line."""
    lines = problem_lines(result.problems, "problems") if result.problems else []
    journal = result.journal.name if result.journal is not None else "-"
    lines.append(f"looked at: {result.tally.describe()} (Python files must compile, imports and named "
                 f"files be beside their script, links resolve)")
    lines.append(f"checked {result.checked} scripts moved by (or left behind by) tidy {journal}: "
                 f"{len(result.problems)} problem{'s' if len(result.problems) != 1 else ''}")
    return lines


def undo_lines(result: UndoResult) -> list[str]:
    """Human-readable undo report."""
    lines = []
    if result.restored:
        lines.append(table([(a, b) for a, b in result.restored], ("FROM", "BACK TO")))
    if result.kept_dirs:
        lines.append("folders kept (not empty): " + ", ".join(result.kept_dirs))
    if result.conflicts:
        lines.append("conflicts (nothing overwritten; fix and run undo again):")
        lines.extend(f"  {c}" for c in result.conflicts)
    lines.append(f"restored {len(result.restored)}, removed folders {len(result.removed_dirs)}, "
                 f"conflicts {len(result.conflicts)}, older tidies left to undo {result.remaining_journals}")
    return lines
