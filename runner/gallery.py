"""The gallery page: `index.html` and `gallery.js` in the output folder, rewritten after every run.

index.html lists every output in the manifest on one page, in the order a paper reads: the headline
comparisons and heatmaps first, checkpoint curves last (`PAPER_ORDER`), one section per figure
under its human title (the `title=` of its registration) with its description; inside, one card
per group and condition with when it was drawn and links to the tables holding its numbers. A
click on a thumbnail opens it large in a lightbox with the same description and links (keyboard:
Esc closes, arrow keys step through the figures). Then the findings (summary.md) and the tables.
It is static and opens from disk: style and scripts are inlined, nothing is fetched.
gallery.js (`window.GALLERY = {...}`) carries what changes between rebuilds: each output's
version and drawn stamp, the status line and the findings. The page re-loads that script every
2 s (see gallery_assets/live.js), so in watch mode redrawn figures swap in without a reload.
"""
from __future__ import annotations

import hashlib
import html
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote

from analysis.views import SOURCES, lineage
from utils.atomic import write_text
from utils.config import Config

ASSETS = Path(__file__).resolve().parent / "gallery_assets"
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp")
SUMMARY = "summary.md"
# Figure outputs in the order a paper shows them; None is where figures not named here go
# (user modules, new built-ins), so the checkpoint curves always come last.
PAPER_ORDER: tuple[str | None, ...] = ("comparison", "heatmap", "normalized", "raw_differences", "prediction",
                                       None, "checkpoints")
PDF_VIEW = "#view=FitH&toolbar=0&navpanes=0"  # a PDF figure fills its card's width, no viewer chrome
NUMBER_TABLES = (".csv", ".tsv", ".json", ".jsonl")  # tables a card links as "numbers in" (not the .tex)


@dataclass(frozen=True)
class Item:
    """One output on the page."""

    rel: str
    spec: Any  # plots.registry.OutputSpec, or None for an output no longer registered
    keys: Mapping[str, Any]
    drawn: str  # "2025-01-31 14:02:11 UTC"
    version: str  # changes whenever the file is redrawn
    exists: bool
    path: Path = Path()  # the file on disk
    terms: str = ""  # what the filter box matches: the runs, experiments, conditions, tasks and metrics shown

    @property
    def is_figure(self) -> bool:
        if self.spec is not None:
            return self.spec.kind == "figure"
        return self.rel.lower().endswith(IMAGE_SUFFIXES + (".pdf",))

    @property
    def is_image(self) -> bool:
        return self.rel.lower().endswith(IMAGE_SUFFIXES)

    @property
    def title(self) -> str:
        return (self.spec.title or self.spec.name) if self.spec is not None else self.rel

    @property
    def description(self) -> str:
        return self.spec.description if self.spec is not None else ""

    @property
    def module(self) -> str:
        return self.spec.module if self.spec is not None else "(no longer registered)"


def write_gallery(out: Path, registry: Mapping[str, Any], manifest: Mapping[str, dict],
                  last_run: Mapping[str, Any], config: Config | None = None) -> None:
    """Write index.html and gallery.js for the outputs in `manifest`.

    `last_run` may hold rendered, problems (malformed evaluation files), failed, gaps, files,
    changed, seconds, finished (ISO time); missing keys are left off the status line. `config` gives readable group and
    condition labels (raw keys without it).
    """
    out = Path(out)
    items = collect(out, registry, manifest)
    layout = _digest("|".join(f"{i.rel}:{i.exists}:{i.title}" for i in items))
    status = status_html(last_run, _finished(last_run))
    findings = findings_html(out)
    data = {"layout": layout, "status": status, "findings": findings,
            "outputs": {i.rel: {"v": i.version, "drawn": i.drawn} for i in items}}
    # index.html first: a page that sees the new gallery.js and reloads then gets the new page.
    write_text(out / "index.html", page_html(items, layout, status, findings, config))
    write_text(out / "gallery.js", "window.GALLERY = " + _script_json(data) + ";\n")


def _finished(last_run: Mapping[str, Any]) -> datetime:
    """When the run finished (last_run["finished"], ISO), else now: the gallery is written last."""
    try:
        return datetime.fromisoformat(str(last_run["finished"]))
    except (KeyError, ValueError):
        return datetime.now(timezone.utc)


def collect(out: Path, registry: Mapping[str, Any], manifest: Mapping[str, dict]) -> list[Item]:
    """The manifest's outputs as page items, in a stable order."""
    items = []
    for rel, entry in sorted(manifest.items()):
        drawn = str(entry.get("drawn", ""))
        items.append(Item(rel=rel, spec=registry.get(entry.get("output")), keys=dict(entry.get("keys") or {}),
                          drawn=_when(drawn), version=_digest(f"{entry.get('fingerprint', '')}|{drawn}"),
                          exists=(out / rel).is_file(), path=out / rel, terms=_terms(rel, entry)))
    return items


def _terms(rel: str, entry: Mapping[str, Any]) -> str:
    """The words the filter box looks for in an output: its path, keys and what it was drawn from."""
    words = [rel, *(str(v) for v in (entry.get("keys") or {}).values())]
    for field_name in ("runs", "experiments", "conditions", "tasks", "metrics"):
        value = entry.get(field_name)
        if isinstance(value, list):
            words += [str(v) for v in value]
    return " ".join(dict.fromkeys(words))


# --- status and findings (also sent through gallery.js) ---------------------------------------

def status_html(last_run: Mapping[str, Any], now: datetime) -> str:
    """When the last rebuild ran, what it redrew, and whether any evaluation file was malformed."""
    rendered = list(last_run.get("rendered") or [])
    parts = [f"{len(rendered)} output{_s(len(rendered))} redrawn"]
    if last_run.get("changed"):
        parts.append(f"{len(last_run['changed'])} evaluation file{_s(len(last_run['changed']))} new or changed")
    if "files" in last_run:
        n_read = int(last_run["files"]) - len(last_run.get("problems") or [])  # a skipped file is not read
        parts.append(f"{n_read} evaluation file{_s(n_read)} read")
    if "seconds" in last_run:
        parts.append(f"in {float(last_run['seconds']):.1f} s")
    lines = [f'<p id="last-rebuild">Last rebuild: <strong>{_when(now.isoformat(timespec="seconds"))}'
             f'</strong> ({html.escape(", ".join(parts))})</p>']
    problems = [str(p) for p in last_run.get("problems") or []]
    if problems:
        lines.append(f'<p id="problems" class="warn">{len(problems)} evaluation file{_s(len(problems))} '
                     f'skipped as malformed</p>' + _details("which files and why", problems))
    else:
        lines.append('<p id="problems" class="ok">No evaluation file was skipped as malformed.</p>')
    failed = [f[0] if isinstance(f, (list, tuple)) else str(f) for f in last_run.get("failed") or []]
    if failed:
        lines.append(f'<p id="failed" class="warn">{len(failed)} output{_s(len(failed))} failed to draw '
                     f'(see the run log): {html.escape(", ".join(failed))}</p>')
    gaps = [str(g) for g in last_run.get("gaps") or []]
    if gaps:
        lines.append(_details(f"Missing data: {len(gaps)} note{_s(len(gaps))}", gaps))
    return "\n".join(lines)


def findings_html(out: Path) -> str:
    """summary.md rendered to HTML, or a note saying why there are no findings."""
    try:
        text = (out / SUMMARY).read_text(encoding="utf-8")
    except OSError:
        return (f"<p>No findings yet: {SUMMARY} was not written "
                f"(it is the <code>summary</code> output; a run with --only may have left it out).</p>")
    body = text.split("\n", 1)[1] if text.startswith("# ") else text  # the section has its own heading
    return markdown_html(body)


_INLINE = [(re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"), (re.compile(r"`(.+?)`"), r"<code>\1</code>")]


def markdown_html(text: str) -> str:
    """The markdown subset summary.md uses: headings, nested `- ` lists, paragraphs, **bold**, `code`."""
    out: list[str] = []
    depth = 0  # open <ul> levels
    para: list[str] = []

    def inline(s: str) -> str:
        s = html.escape(s, quote=False)
        for pattern, repl in _INLINE:
            s = pattern.sub(repl, s)
        return s

    def flush_para() -> None:
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()

    def close_lists(to: int) -> None:
        nonlocal depth
        while depth > to:
            out.append("</li></ul>")
            depth -= 1

    for line in text.splitlines():
        stripped = line.strip()
        bullet = re.match(r"^( *)- (.*)$", line)
        if not stripped:
            flush_para()
            close_lists(0)
        elif stripped.startswith("#"):
            flush_para()
            close_lists(0)
            level = min(len(stripped) - len(stripped.lstrip("#")) + 1, 6)
            out.append(f"<h{level}>{inline(stripped.lstrip('#').strip())}</h{level}>")
        elif bullet:
            flush_para()
            level = len(bullet.group(1)) // 2 + 1
            if level > depth:
                while depth < level:
                    out.append("<ul><li>")
                    depth += 1
            else:
                close_lists(level)
                out.append("</li><li>")
            out.append(inline(bullet.group(2)))
        elif depth:
            out.append(" " + inline(stripped))  # continuation of a list item
        else:
            para.append(stripped)
    flush_para()
    close_lists(0)
    return "\n".join(out)


# --- the page -----------------------------------------------------------------------------------

def page_html(items: list[Item], layout: str, status: str, findings: str, config: Config | None) -> str:
    """The whole index.html: header with status, figures in paper order, findings, tables, lightbox."""
    figures = [i for i in items if i.is_figure]
    tables = [i for i in items if not i.is_figure]
    runs = [i for i in figures if i.spec is not None and i.spec.needs in RUN_VIEWS]
    sections = _by_output([i for i in figures if i not in runs])
    run_groups = _run_groups(runs)
    nav = [f'<a href="#{_group_anchor(g)}">Runs: {html.escape(g)}</a>' for g in run_groups]
    nav += [f'<a href="#{_anchor(key)}">{html.escape(_section_title(its))}</a>' for key, its in sections.items()]
    nav += ['<a href="#findings">Findings</a>', '<a href="#tables">Tables</a>']
    body = [
        f'<header><h1>Evaluation figures</h1><div id="status">{status}</div>',
        '<p id="layout-changed" hidden>The set of outputs changed: <a href="">reload the page</a>.</p></header>',
        f'<nav>{" ".join(nav)}{FILTER_BOX}</nav>',
    ]
    for group, group_items in run_groups.items():  # the overviews of runs nobody described come first
        body.append(_run_group_section(group, group_items, tables, config))
    for key, sec_items in sections.items():
        body.append(_section(key, sec_items, tables, config))
    if not figures:
        body.append("<p>No figures yet.</p>")
    body.append(f'<section id="findings"><h2>Findings</h2><div id="findings-body">{findings}</div>'
                f'<p class="meta">From <a href="{SUMMARY}">{SUMMARY}</a>.</p></section>')
    body.append(_tables_section(tables))
    body.append(_LIGHTBOX)
    head = ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>Evaluation figures</title>"
            f"<style>\n{(ASSETS / 'gallery.css').read_text(encoding='utf-8')}"
            f"{(ASSETS / 'runs.css').read_text(encoding='utf-8')}</style>"
            '<script id="gallery-data" src="gallery.js"></script></head>')
    scripts = "".join(f"<script>\n{(ASSETS / name).read_text(encoding='utf-8')}</script>\n"
                      for name in ("live.js", "zoom.js", "filter.js"))
    return f'{head}\n<body data-layout="{layout}">\n' + "\n".join(body) + f"\n{scripts}</body></html>\n"


_LIGHTBOX = ('<dialog id="zoom" aria-label="Figure, enlarged"><div class="zoom-bar">'
             '<div class="zoom-title" id="zoom-title"></div>'
             '<button type="button" data-step="-1" title="Previous figure (left arrow)">&larr;</button>'
             '<button type="button" data-step="1" title="Next figure (right arrow)">&rarr;</button>'
             '<button type="button" id="zoom-close" title="Close (Esc)">&times;</button></div>'
             '<div id="zoom-figure"></div><div id="zoom-caption"></div></dialog>')  # zoom.js adds the <img>


# Figures of runs nobody described (no baseline): one section per run group, before the sweep's figures,
# overviews first, the per-benchmark details folded behind them (RUN_ORDER: the order inside a group).
RUN_VIEWS = ("run_overview", "suite_headline", "suite_subtasks")
RUN_ORDER = ("overview", "suite_table", "last_values")
FILTER_BOX = ('<label class="filter">Filter <input id="filter" type="search" autocomplete="off" '
              'placeholder="run, metric or task" aria-label="Show only the figures of a run, metric or task">'
              '</label> <span id="filter-count" aria-live="polite"></span>')


def _run_groups(items: list[Item]) -> dict[str, list[Item]]:
    """Run-group figures by group (sorted), overviews first, then the table and dots, then the rest."""
    out: dict[str, list[Item]] = {}
    for item in items:
        out.setdefault(str(item.keys.get("group", "")), []).append(item)

    def rank(item: Item) -> tuple:
        name = item.spec.name
        return (RUN_ORDER.index(name) if name in RUN_ORDER else len(RUN_ORDER), name,
                tuple(str(v) if not isinstance(v, int) else f"{v:09d}" for v in item.keys.values()))
    return {g: sorted(out[g], key=rank) for g in sorted(out)}


def _group_anchor(group: str) -> str:
    return "g-" + (re.sub(r"[^A-Za-z0-9_-]", "-", group) or "runs")


def _card_id(item: Item) -> str:
    return "c-" + re.sub(r"[^A-Za-z0-9_-]", "-", item.rel)


def _run_label(item: Item) -> str:
    """A run-group card's label: what it shows (overview page n, table, dots, a benchmark's subtasks)."""
    name, keys = item.spec.name, item.keys
    if name == "overview":
        return f"Overview, page {keys.get('page', 1)}"
    if name == "suite_subtasks":
        return f"{keys.get('benchmark', '')}: subtasks"
    return item.title


def _run_group_section(group: str, items: list[Item], tables: list[Item], config: Config | None) -> str:
    """One run group: a folding section with a contents list, its overviews, table and dots, and the
    per-benchmark detail figures folded behind them."""
    main = [i for i in items if i.spec.name in RUN_ORDER]
    detail = [i for i in items if i.spec.name not in RUN_ORDER]
    contents = "".join(f'<li><a href="#{_card_id(i)}">{html.escape(_run_label(i))}</a></li>' for i in items)
    out = [f'<section id="{_group_anchor(group)}" class="run-group figure-section" data-group="{html.escape(group)}">',
           f'<details open class="fold"><summary><h2>Runs: {html.escape(group)}</h2> '
           f'<span class="meta">{len(items)} figure{_s(len(items))}, no baseline</span></summary>',
           f'<ul class="contents">{contents}</ul>',
           '<div class="grid">' + "\n".join(_card(i, tables, config, _run_label(i)) for i in main) + "</div>"]
    if detail:
        out.append(f'<details class="fold detail"><summary><h3>Details: {len(detail)} more figure{_s(len(detail))}'
                   f' (a benchmark\'s subtasks)</h3></summary><div class="grid">'
                   + "\n".join(_card(i, tables, config, _run_label(i)) for i in detail) + "</div></details>")
    out.append("</details></section>")
    return "\n".join(out)


def _section(key: str, items: list[Item], tables: list[Item], config: Config | None) -> str:
    """One figure's section: its title and description, then a card per slice (by group when the
    figure is also split by condition or task, else one grid of its groups)."""
    first = items[0]
    out = [f'<section id="{_anchor(key)}" class="figure-section"><h2>{html.escape(_section_title(items))}</h2>']
    if first.description:
        out.append(f'<p class="section-desc">{html.escape(first.description)}</p>')
    by_group_only = all(set(i.keys) <= {"group", "part", "parts"} for i in items)
    groups = _by_group(items, config)
    grid = _grid(items)
    if by_group_only:
        cards = [_card(i, tables, config, _group_label(g, config) + _part_label(i.keys))
                 for g, its in groups.items() for i in its]
        out.append(grid + "\n".join(cards) + "</div>")
    else:
        for group, group_items in groups.items():
            out.append(f"<h3>{html.escape(_group_label(group, config))}</h3>")
            out.append(grid + "\n".join(
                _card(i, tables, config, _slice_label(i.keys, config) or i.rel) for i in group_items) + "</div>")
    out.append("</section>")
    return "\n".join(out)


THUMB_SCALE = 0.72  # a thumbnail at least 72% of the image's pixels: 7 pt text at 150 dpi is >= 10.5 px


def png_width(path: Path) -> int | None:
    """The pixel width of a PNG (from its IHDR header), None for anything else or unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big")


def _grid(items: list[Item]) -> str:
    """The opening of a grid of cards whose columns are at least THUMB_SCALE of the widest image's pixels
    (`--thumb`; the page's width when narrower), so the figures' 7 pt text reads in the thumbnails."""
    widths = [w for w in (png_width(i.path) for i in items if i.exists and i.is_image) if w]
    if not widths:
        return '<div class="grid">'
    return f'<div class="grid" style="--thumb: {math.ceil(THUMB_SCALE * max(widths))}px">'


def _part_label(keys: Mapping[str, Any]) -> str:
    """" (part 1 of 2)" for one part of a figure split to fit a page; "" otherwise."""
    return f" (part {keys['part']} of {keys['parts']})" if "parts" in keys else ""


def _section_title(items: list[Item]) -> str:
    return items[0].title if items[0].spec is not None else "Outputs no longer registered"


def _numbers_in(view: str) -> set[str]:
    """Views whose tables hold a figure's numbers: its own and those it is computed from
    (every view comes from the raw records, so metrics.csv only for views drawn straight from it)."""
    views = lineage(view) - {"primary"}  # the scores and curves before they are split: no table of its own
    straight = set(SOURCES.get(view, ())) <= {"metrics", "primary"}
    return views if straight or view == "metrics" else views - {"metrics"}


def _card(item: Item, tables: list[Item], config: Config | None, label: str) -> str:
    """A thumbnail (a link to the file; a click opens the lightbox) with its slice label; the
    description (shown in the lightbox), when it was drawn and links to the tables of its numbers."""
    src = quote(item.rel)
    if not item.exists:
        visual = f'<div class="missing">{html.escape(item.rel)} is missing on disk: rerun to redraw it</div>'
    elif item.rel.lower().endswith(".pdf"):  # plots.format: pdf; Chromium and Firefox draw it inline
        visual = (f'<object class="pdf" type="application/pdf" data="{src}?v={item.version}{html.escape(PDF_VIEW)}" '
                  f'data-src="{src}" data-frag="{html.escape(PDF_VIEW)}" data-rel="{html.escape(item.rel)}" '
                  f'data-v="{item.version}" style="aspect-ratio: {pdf_aspect(item.path)}">'
                  f'<a href="{src}">open {html.escape(item.rel)}</a></object>')
    elif item.is_image:
        visual = (f'<a href="{src}" class="zoom-link"><img src="{src}?v={item.version}" data-src="{src}" '
                  f'data-rel="{html.escape(item.rel)}" data-v="{item.version}" loading="lazy" '
                  f'alt="{html.escape(item.title)}: {html.escape(label)}"></a>')
    else:
        visual = f'<p><a href="{src}">open {html.escape(item.rel)}</a></p>'
    links = [f'<a href="{quote(t.rel)}">{html.escape(Path(t.rel).name)}</a>' for t in tables
             if t.exists and item.spec is not None and t.spec is not None
             and t.rel.lower().endswith(NUMBER_TABLES) and t.spec.needs in _numbers_in(item.spec.needs)]
    slice_label = _slice_label(item.keys, config)
    group = str(item.keys.get("group", ""))
    full = " · ".join(p for p in (item.title, _group_label(group, config) if group else "", slice_label) if p)
    meta = [f'drawn <span data-drawn="{html.escape(item.rel)}">{html.escape(item.drawn)}</span>']
    meta.append(("numbers in " + ", ".join(links)) if links else '<a href="#tables">tables</a>')
    return (f'<figure class="card" id="{_card_id(item)}" data-title="{html.escape(full)}" '
            f'data-terms="{html.escape(item.terms)}">{visual}<figcaption>'
            f'<div class="title">{html.escape(label)}</div>'
            f'<p class="desc">{html.escape(item.description)}</p>'
            f'<p class="meta">{" &middot; ".join(meta)} &middot; <a href="{src}">{html.escape(item.rel)}</a>'
            f'</p></figcaption></figure>')


def pdf_aspect(path: Path) -> str:
    """`width / height` of a PDF's first page from its /MediaBox (matplotlib writes it as plain
    text near the start), so the card keeps the figure's proportions; 4 / 3 when not found."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return "4 / 3"
    m = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", head)
    if not m:
        return "4 / 3"
    x0, y0, x1, y1 = (float(v) for v in m.groups())
    return f"{abs(x1 - x0):g} / {abs(y1 - y0):g}" if x1 != x0 and y1 != y0 else "4 / 3"


def _tables_section(tables: list[Item]) -> str:
    rows = []
    for t in tables:
        link = f'<a href="{quote(t.rel)}">{html.escape(t.rel)}</a>' if t.exists else \
            f"{html.escape(t.rel)} (missing on disk)"
        rows.append(f"<tr><td>{link}</td><td>{html.escape(t.title)}</td><td>{html.escape(t.description)}</td>"
                    f'<td><span data-drawn="{html.escape(t.rel)}">{html.escape(t.drawn)}</span></td></tr>')
    if not rows:
        return '<section id="tables"><h2>Tables</h2><p>No tables yet.</p></section>'
    return ('<section id="tables"><h2>Tables</h2><table class="tables"><tr><th>File</th><th>What</th>'
            "<th>Contents</th><th>Written</th></tr>" + "\n".join(rows) + "</table></section>")


def _by_output(items: Iterable[Item]) -> dict[str, list[Item]]:
    """Figures by output (section), in PAPER_ORDER by output name, or by its module's name for a
    second figure of a known module (plots/heatmap.py's per-seed heatmap follows the heatmap);
    outputs it does not name go to its None slot, by title; outputs no longer registered last."""
    out: dict[str, list[Item]] = {}
    for item in items:
        out.setdefault(item.spec.name if item.spec is not None else "", []).append(item)
    slot = PAPER_ORDER.index(None)

    def rank(name: str) -> tuple:
        if name == "":
            return (len(PAPER_ORDER), 0, "")
        module = str(getattr(out[name][0].spec, "module", "")).rsplit(".", 1)[-1]
        place = name if name in PAPER_ORDER else module
        return (PAPER_ORDER.index(place) if place in PAPER_ORDER else slot, name != place,
                out[name][0].title.lower())
    return {name: out[name] for name in sorted(out, key=rank)}


def _by_group(items: list[Item], config: Config | None) -> dict[str, list[Item]]:
    order = list(config.groups) if config is not None else []
    groups = sorted({str(i.keys.get("group", "")) for i in items},
                    key=lambda g: (g != "", g not in order, order.index(g) if g in order else 0, g))
    return {g: sorted((i for i in items if str(i.keys.get("group", "")) == g),
                      key=lambda i: (i.spec.name if i.spec is not None else "", _key_order(i.keys, config), i.rel))
            for g in groups}


def _key_order(keys: Mapping[str, Any], config: Config | None) -> tuple:
    ranks = []
    for k, v in keys.items():
        if config is not None and k == "condition":
            names = [c.name for c in config.conditions]
            ranks.append(names.index(v) if v in names else len(names))
        elif config is not None and k == "task":
            names = list(config.tasks)
            ranks.append(names.index(v) if v in names else len(names))
        else:
            ranks.append(0)
    return tuple(ranks)


def _group_label(group: str, config: Config | None) -> str:
    if not group:
        return "All experiments"
    if config is not None and group in config.groups:
        return f"{group}: {config.group_label(group)}"
    return group


def _slice_label(keys: Mapping[str, Any], config: Config | None) -> str:
    parts = []
    for k, v in keys.items():
        if k in ("group", "parts"):
            continue
        if k == "part":  # one part of a figure split to fit a page
            parts.append(f"part {v} of {keys.get('parts', '?')}")
        elif config is not None and k == "condition":
            parts.append(config.condition_label(str(v)))
        elif config is not None and k == "task" and v in config.tasks:
            parts.append(config.tasks[v].label)
        else:
            parts.append(f"{k} {v}")
    return ", ".join(parts)


def _anchor(name: str) -> str:
    return "f-" + (re.sub(r"[^A-Za-z0-9_-]", "-", name) or "unregistered")


def _details(summary: str, lines: list[str]) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f"<details><summary>{html.escape(summary)}</summary><ul>{items}</ul></details>"


def _when(iso: str) -> str:
    """ISO time -> '2025-01-31 14:02:11 UTC' (as given when it does not parse)."""
    try:
        t = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or "unknown"
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _s(n: Any) -> str:
    return "" if n == 1 else "s"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> file: no `</script>` or U+2028 can end or break it."""
    return json.dumps(data, ensure_ascii=True, sort_keys=True).replace("</", "<\\/")
