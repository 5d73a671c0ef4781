"""The gallery page: `index.html` in the output folder, listing every output of the last run."""
from __future__ import annotations

import html
from pathlib import Path

from utils.atomic import write_text


def write_gallery(out: Path, registry: dict, manifest: dict, last_run: dict) -> None:
    """Write a static index.html linking every figure and table in the manifest."""
    items = []
    for rel, entry in sorted(manifest.items()):
        spec = registry.get(entry.get("output"))
        title = html.escape(spec.title if spec else rel)
        if rel.endswith((".png", ".svg")):
            items.append(f'<figure><img src="{html.escape(rel)}" alt="{title}"><figcaption>{title}: '
                         f'{html.escape(rel)}</figcaption></figure>')
        else:
            items.append(f'<p><a href="{html.escape(rel)}">{html.escape(rel)}</a></p>')
    write_text(out / "index.html", "<!doctype html><meta charset=utf-8><title>Evaluation figures</title>\n"
               + "\n".join(items) + "\n")
