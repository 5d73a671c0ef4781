"""The output manifest, `<out>/.cache/manifest.json`: per output file its fingerprint and what it
was drawn from, plus the input stamps that let a rerun with nothing changed end before loading.

Each output is also recorded the moment it is written, one line appended to
`<out>/.cache/manifest.journal` (`Journal`): a run stopped half-way (Ctrl-C, a kill) leaves the
journal, `read_manifest` applies it, and the rerun redraws only what was not finished. Writing the
whole manifest at the end of a run folds the journal in and removes it.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import IO

from utils.atomic import write_text
from utils.walk import MARKER_TEXT, OUTPUT_MARKER

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


def _read(path: Path) -> tuple[dict, dict]:
    """(outputs, input stamps) of manifest.json alone."""
    if not path.exists():
        return {}, {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION \
                or not isinstance(data.get("outputs"), dict):
            log.info("output cache %s is from another version; redrawing everything", path)
            return {}, {}
    except (OSError, ValueError) as exc:
        log.warning("output cache %s is corrupt (%s); redrawing everything", path, exc)
        return {}, {}
    outputs = {rel: e for rel, e in data["outputs"].items() if _is_entry(rel, e)}
    stamps = data.get("stamps") if isinstance(data.get("stamps"), dict) else {}
    return outputs, {k: v for k, v in stamps.items() if isinstance(v, dict)}


def read_manifest(path: Path) -> tuple[dict, dict]:
    """(outputs, input stamps) of the manifest at `path`, with the journal of an unfinished run
    applied; anything malformed is dropped and redrawn, never trusted."""
    outputs, stamps = _read(path)
    journal = journal_path(path)
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except OSError:
        return outputs, stamps
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:  # the last line of a run killed mid-write
            continue
        if not isinstance(item, dict) or not isinstance(item.get("rel"), str):
            continue
        if item.get("entry") is None:
            outputs.pop(item["rel"], None)
        elif _is_entry(item["rel"], item["entry"]):
            outputs[item["rel"]] = item["entry"]
    return outputs, stamps


def _is_entry(rel: str, entry: object) -> bool:
    """A well-formed entry for a path inside the output folder: only those are ever redrawn or
    removed (a manifest naming `../x` or an absolute path is not trusted)."""
    if not (isinstance(entry, dict) and isinstance(entry.get("fingerprint"), str)
            and isinstance(entry.get("output"), str)):
        return False
    parts = PurePosixPath(rel).parts
    return bool(parts) and not rel.startswith("/") and "\\" not in rel and ".." not in parts \
        and parts[0] not in (".cache", OUTPUT_MARKER) and ":" not in parts[0]


def journal_path(manifest: Path) -> Path:
    return manifest.with_name("manifest.journal")


class Journal:
    """Appends one line per output as it is written or fails, so an interrupted run's finished
    outputs are known to the next run (see the module docstring)."""

    def __init__(self, manifest: Path) -> None:
        self.path = journal_path(manifest)
        self._fh: IO[str] | None = None

    def record(self, rel: str, entry: dict | None) -> None:
        """`entry` None: the output is not drawn (failed); else what the manifest keeps for it."""
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps({"rel": rel, "entry": entry}, sort_keys=True, default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def mark_output_folder(out: Path) -> None:
    """Create `out` and its marker file (`utils.walk.OUTPUT_MARKER`): discovery never reads below it."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / OUTPUT_MARKER
    if not marker.is_file():
        write_text(marker, MARKER_TEXT)


def write_manifest(path: Path, outputs: dict, stamps: dict, last_run: dict) -> None:
    """Write the manifest atomically (a reader sees the old one or the new one, never half); the
    journal it now holds is removed."""
    _write(path, outputs, stamps, last_run)
    try:
        os.unlink(journal_path(path))
    except FileNotFoundError:
        pass


def _write(path: Path, outputs: dict, stamps: dict, last_run: dict) -> None:
    write_text(path, json.dumps({
        "version": MANIFEST_VERSION,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "outputs": outputs,
        "stamps": stamps,
        "last_run": last_run,
    }, indent=1, sort_keys=True, default=str))
