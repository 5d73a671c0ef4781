"""Human and JSON output for tidy and undo results."""

from __future__ import annotations

import json

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


def moves_table(moves: list[Move]) -> str:
    """Source, destination, rule (and a note column when there are duplicates)."""
    has_notes = any(m.duplicate_of for m in moves)
    header: tuple[str, ...] = ("SOURCE", "DESTINATION", "RULE") + (("NOTE",) if has_notes else ())
    rows = []
    for m in moves:
        row: tuple[str, ...] = (m.source, m.destination, m.rule)
        if has_notes:
            row += (f"duplicate of {m.duplicate_of}" if m.duplicate_of else "",)
        rows.append(row)
    return table(rows, header)


def tidy_summary(result: TidyResult) -> str:
    """One line: moved N, unmatched M listed, duplicates, failures."""
    plan = result.plan
    moved = len(plan.moves) if result.dry_run else len(result.done)
    verb = "would move" if result.dry_run else "moved"
    return (f"{verb} {moved}, unmatched {len(plan.unmatched)} (listed, left in place), "
            f"duplicates {len(plan.duplicates)}, failures {len(result.failed)}")


def tidy_details(result: TidyResult) -> list[str]:
    """Lines listing unmatched files and failures (each named with its reason)."""
    plan = result.plan
    lines = []
    if plan.unmatched:
        lines.append("unmatched (no rule matched; left where they are):")
        for rel in plan.unmatched:
            note = plan.notes.get(rel)
            lines.append(f"  {rel}" + (f"  ({note})" if note else ""))
    if result.failed:
        lines.append("could not move (left where they are):" if not result.dry_run else "would fail (left where they are):")
        for src, reason in result.failed:
            lines.append(f"  {src}: {reason}")
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
