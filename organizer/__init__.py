"""Organizer: tidy a research scratch folder into subfolders by rules, safely and undoably.

Public API: :func:`plan_tidy` (read-only plan), :func:`run_tidy`, :func:`run_undo`,
:func:`check_folder` (do the scripts and links the latest tidy moved still work?), :func:`watch_folder`
(keep a folder tidy as files appear), :func:`load_rules_file`, :func:`load_default_rules`; the CLI is
:func:`organizer.cli.main`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .check import CheckResult, Problem, check_folder  # noqa: E402
from .errors import JournalError, MoveError, OrganizerError, RulesError, StateError, UsageError  # noqa: E402
from .planner import Move, Plan, plan_tidy  # noqa: E402
from .rules import RuleSet, load_default_rules, load_rules_file, resolve_rules  # noqa: E402
from .tidy import TidyResult, run_tidy  # noqa: E402
from .undo import UndoResult, run_undo  # noqa: E402
from .watch import WatchStats, watch_folder  # noqa: E402

__all__ = [
    "CheckResult", "Problem", "check_folder",
    "JournalError", "Move", "MoveError", "OrganizerError", "Plan", "RuleSet", "RulesError", "StateError",
    "TidyResult", "UndoResult", "UsageError", "WatchStats", "__version__", "load_default_rules", "load_rules_file",
    "plan_tidy", "resolve_rules", "run_tidy", "run_undo", "watch_folder",
]
