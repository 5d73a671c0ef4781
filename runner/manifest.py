"""The output manifest, `<out>/.cache/manifest.json`: per output file its fingerprint and what it
was drawn from, plus the input stamps that let a rerun with nothing changed end before loading."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from utils.atomic import write_text

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


def read_manifest(path: Path) -> tuple[dict, dict]:
    """(outputs, input stamps); anything malformed is dropped and redrawn, never trusted."""
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
    outputs = {rel: e for rel, e in data["outputs"].items()
               if isinstance(e, dict) and isinstance(e.get("fingerprint"), str)
               and isinstance(e.get("output"), str)}
    stamps = data.get("stamps") if isinstance(data.get("stamps"), dict) else {}
    return outputs, {k: v for k, v in stamps.items() if isinstance(v, dict)}


def write_manifest(path: Path, outputs: dict, stamps: dict, last_run: dict) -> None:
    """Write the manifest atomically: a reader sees the old one or the new one, never half."""
    write_text(path, json.dumps({
        "version": MANIFEST_VERSION,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "outputs": outputs,
        "stamps": stamps,
        "last_run": last_run,
    }, indent=1, sort_keys=True, default=str))
