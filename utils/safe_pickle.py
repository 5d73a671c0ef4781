"""Pickles of builtin types only, for the caches under `<out>/.cache`: a corrupt or foreign file
fails to load (and is rebuilt), it is never trusted or executed. Free of pandas: the no-op check
reads the folder memo (utils/walk.py) with it."""
from __future__ import annotations

import gc
import logging
import pickle
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


class BuiltinsOnly(pickle.Unpickler):
    """Unpickles tuples, lists, dicts, strings and numbers only: no classes, no code."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        raise pickle.UnpicklingError(f"unexpected object {module}.{name}")


def load_builtins(fh: IO[bytes]) -> Any:
    """The object pickled in `fh`; raises (pickle.UnpicklingError, ...) on anything but builtins.

    The cyclic garbage collector is paused meanwhile: a 100,000-file parse cache is millions of
    tuples, each allocation counting toward a collection that finds nothing (1.7 -> 0.55 s)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return BuiltinsOnly(fh).load()
    finally:
        if paused:
            gc.enable()


def read_builtins(path: Path, what: str, instead: str) -> Any:
    """The builtins pickled at `path` (one of our caches, `what`), or None when there is none or it
    does not load (said with what is done `instead`: a corrupt cache is rebuilt, never trusted)."""
    try:
        with open(path, "rb") as fh:
            return load_builtins(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - anything a damaged or foreign file raises
        log.warning("%s %s is unreadable (%s); %s", what, path, exc, instead)
        return None
