"""Exception types for user-facing errors.

Every error a user can cause (bad rules file, bad arguments, a folder in a state
we refuse to touch) is an :class:`OrganizerError` with a one-line, actionable
message.  The CLI prints it without a traceback and exits with ``exit_code``.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class OrganizerError(Exception):
    """Base class for errors caused by input or folder state, not by bugs."""

    exit_code: int = 2


class RulesError(OrganizerError):
    """The rules file is unreadable or invalid; raised before anything moves."""


class UsageError(OrganizerError):
    """Bad command-line usage, e.g. DIR is not a directory."""


class StateError(OrganizerError):
    """The folder is in a state we refuse to act on (locked, interrupted run, no journal)."""


class JournalError(StateError):
    """The journal is missing or corrupt, so an undo cannot be planned safely."""


class MoveError(OrganizerError):
    """One move could not be carried out; the file is still at its source."""

    exit_code = 1
