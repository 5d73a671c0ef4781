"""Exceptions whose messages are meant for the person running the tool."""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad flag, bad config, bad file); printed without traceback."""


class ConfigError(UserError):
    """rules.yaml is invalid; the message names the file and the key."""


class EvalFileError(UserError):
    """An evaluation file could not be read; the message names the file and the reason."""


class DataPathError(UserError):
    """`--data` (or data.root) is missing, is a file, or holds no evaluation files the readers know."""


class OutputPathError(UserError):
    """`--out` cannot be written: a folder on the way is read-only, or a file is in the way."""
