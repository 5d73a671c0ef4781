"""The gallery page: what index.html and gallery.js say after a run (the browser test drives it live)."""
from __future__ import annotations

import html
import json
import re
import shutil
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from testing_helpers import REPO, write_eval
from plots.registry import discover
from utils.config import Config, load_config
from runner.gallery import markdown_html, status_html, write_gallery
from runner.pipeline import Pipeline
from runner.report import Options
from utils.synthetic import write_tree

ONLY = ("comparison", "scores_csv", "summary", "scores_by_seed")


class Page(HTMLParser):
    """The bits of index.html the tests look at: images, links, headings, the body's layout key."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.imgs: list[dict] = []
        self.links: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.layout = None
        self._heading: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a)
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "body":
            self.layout = a.get("data-layout")
        elif tag in ("h2", "h3"):
            self._heading = tag
            self.headings.append((tag, ""))

    def handle_data(self, data):
        if self._heading:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)

    def handle_endtag(self, tag):
        if tag == self._heading:
            self._heading = None


def gallery_data(out: Path) -> dict:
    text = (out / "gallery.js").read_text()
    assert text.startswith("window.GALLERY = ") and text.rstrip().endswith(";")
    return json.loads(text[len("window.GALLERY = "):].rstrip().rstrip(";"))


def run(config: Config, root: Path, out: Path):
    pipeline = Pipeline(config, Options(data=root, out=out, only=ONLY, jobs=1, progress=False))
    try:
        return pipeline.run(), pipeline.manifest
    finally:
        pipeline.close()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One small run shared by the read-only tests: 2 groups x 2 conditions of comparison figures."""
    config = load_config(REPO / "rules.yaml")
    base = tmp_path_factory.mktemp("gallery")
    root, out = base / "exp", base / "out"
    write_tree(root, seeds=1, ft1=1, ft2=1, checkpoints=2, tasks=("distance", "crossing"))
    report, manifest = run(config, root, out)
    assert report.exit_code == 0
    return SimpleNamespace(config=config, root=root, out=out, manifest=dict(manifest),
                           page=Page((out / "index.html").read_text()), html=(out / "index.html").read_text())


def test_every_figure_has_an_image_that_exists(rendered):
    figures = sorted(rel for rel in rendered.manifest if rel.endswith(".png"))
    assert figures == ["comparison/ft1_atlantis.png", "comparison/ft1_standard.png",
                       "comparison/ft2_atlantis.png", "comparison/ft2_standard.png"]
    data = gallery_data(rendered.out)
    by_rel = {img["data-rel"]: img for img in rendered.page.imgs}
    assert sorted(by_rel) == figures
    for rel in figures:
        png = (rendered.out / rel).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 1000
        assert by_rel[rel]["src"] == f"{rel}?v={data['outputs'][rel]['v']}"


def test_figures_by_title_then_group_and_findings_after_them(rendered):
    heads = rendered.page.headings
    title = discover()["comparison"].title
    start = heads.index(("h2", title))  # the human title, not the code name
    assert ("h2", "comparison") not in heads
    assert heads[start + 1:start + 3] == [("h3", "ft1: Single-task fine-tuning"), ("h3", "ft2: Two-task fine-tuning")]
    assert start < heads.index(("h2", "Findings")) < heads.index(("h2", "Tables"))  # findings: there, not first
    nav = re.search(r"<nav>(.*?)</nav>", rendered.html, re.S).group(1)
    assert re.findall(r">([^<]+)</a>", nav) == [title, "Findings", "Tables"]


def test_cards_carry_title_description_drawn_and_table_links(rendered):
    drawn = rendered.manifest["comparison/ft1_standard.png"]["drawn"]  # ISO, UTC
    stamp = drawn[:10] + " " + drawn[11:19] + " UTC"
    card = re.search(r'<figure class="card"(?:(?!</figure>).)*ft1_standard\.png(?:(?!</figure>).)*</figure>',
                     rendered.html, re.S).group(0)
    spec = discover()["comparison"]
    assert f'data-title="{spec.title} · ft1: Single-task fine-tuning · Standard"' in card  # the lightbox's title
    assert f'<div class="title">Standard</div>' in card
    assert f'<p class="desc">{html.escape(spec.description)}</p>' in card  # shown in the lightbox
    assert f'<span data-drawn="comparison/ft1_standard.png">{stamp}</span>' in card
    assert 'href="tables/scores.csv"' in card  # the table with the same view's numbers
    assert 'class="zoom-link"' in card and '.tex"' not in card  # numbers are linked in the CSVs
    for table in ("tables/scores.csv", "tables/scores_by_seed.csv", "summary.md"):
        assert table in rendered.page.links and (rendered.out / table).is_file()


def fake_spec(name: str, title: str, per=("group",)) -> SimpleNamespace:
    return SimpleNamespace(name=name, kind="figure", needs="scores", title=title, description=f"What {name} shows.",
                           module=f"plots.{name}", per=per)


def test_sections_follow_the_paper_order_with_other_figures_before_the_checkpoints(tmp_path):
    names = {"checkpoints": "Metric over checkpoints", "my_fig": "A user's figure", "heatmap": "Score heatmap",
             "prediction": "Prediction", "comparison": "Raw metric vs baseline", "normalized": "Score toward perfect",
             "raw_differences": "Forgetting", "another": "Zebra figure"}
    registry = {n: fake_spec(n, t) for n, t in names.items()}
    registry["heatmap_by_seed"] = fake_spec("heatmap_by_seed", "Heatmap per seed")
    registry["heatmap_by_seed"].module = "plots.heatmap"  # a second figure of a known module follows its first
    names["heatmap_by_seed"] = "Heatmap per seed"
    manifest = {f"{n}/ft1.png": {"output": n, "fingerprint": n, "drawn": "2025-01-01T00:00:00+00:00",
                                 "keys": {"group": "ft1"}} for n in names}
    manifest["gone/ft1.png"] = {"output": "gone", "fingerprint": "g", "drawn": "", "keys": {"group": "ft1"}}
    for rel in manifest:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"\x89PNG")
    write_gallery(tmp_path, registry, manifest, {"rendered": []})
    page = Page((tmp_path / "index.html").read_text())
    h2 = [text for tag, text in page.headings if tag == "h2"]
    assert h2 == ["Raw metric vs baseline", "Score heatmap", "Heatmap per seed", "Score toward perfect", "Forgetting", "Prediction",
                  "A user's figure", "Zebra figure", "Metric over checkpoints", "Outputs no longer registered",
                  "Findings", "Tables"]
    assert [img["data-rel"] for img in page.imgs][:2] == ["comparison/ft1.png", "heatmap/ft1.png"]
    # one card per group (no condition split): the groups side by side under the title, no sub-headings
    assert not [text for tag, text in page.headings if tag == "h3"]
    assert '<div class="title">ft1</div>' in (tmp_path / "index.html").read_text()


def test_findings_section_shows_summary(rendered):
    summary = (rendered.out / "summary.md").read_text()
    first = next(line for line in summary.splitlines() if line.startswith("  - "))  # a best-per-task line
    assert "<h3>Best experiment per task</h3>" in rendered.html
    assert first.strip()[2:].split(",")[0] in rendered.html
    assert gallery_data(rendered.out)["findings"] in rendered.html


def test_gallery_js_matches_page_and_manifest(rendered):
    data = gallery_data(rendered.out)
    assert data["layout"] == rendered.page.layout
    assert set(data["outputs"]) == set(rendered.manifest)
    assert "No evaluation file was skipped as malformed." in data["status"]
    assert data["status"] in rendered.html


def test_rerun_keeps_versions_and_redraw_changes_only_that_one(rendered, tmp_path):
    root, out = tmp_path / "exp", tmp_path / "out"
    shutil.copytree(rendered.root, root)
    shutil.copytree(rendered.out, out)
    before = gallery_data(out)
    report, _ = run(rendered.config, root, out)
    assert report.rendered == []
    assert gallery_data(out)["outputs"] == before["outputs"]  # nothing redrawn: no image reloads
    path = root / "pt1_ft1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json"
    data = json.loads(path.read_text())
    last = max(data, key=lambda k: int(k.split("-")[1]))
    data[last]["eval_distance_metric_mean"] *= 0.5
    path.write_text(json.dumps(data))
    report, _ = run(rendered.config, root, out)
    after = gallery_data(out)
    changed = {rel for rel, o in before["outputs"].items() if o["v"] != after["outputs"][rel]["v"]}
    assert "comparison/ft1_standard.png" in changed and "comparison/ft2_standard.png" not in changed
    assert changed == set(report.rendered)
    assert after["layout"] == before["layout"] == Page((out / "index.html").read_text()).layout


@pytest.mark.parametrize("problems, expected", [
    ([], "No evaluation file was skipped as malformed."),
    (["a/evals/x/eval_data/evaluation_results.json: not valid JSON"], "1 evaluation file skipped as malformed"),
    (["a.json: bad", "b.json: bad"], "2 evaluation files skipped as malformed"),
])
def test_status_says_whether_files_were_skipped(problems, expected):
    text = status_html({"rendered": ["x.png"], "problems": problems, "files": 3, "seconds": 0.5},
                       datetime(2025, 1, 31, 14, 2, 11, tzinfo=timezone.utc))
    assert expected in text
    read = 3 - len(problems)  # a skipped file is not read
    assert ("Last rebuild: <strong>2025-01-31 14:02:11 UTC</strong> "
            f"(1 output redrawn, {read} evaluation file{'s' if read != 1 else ''} read, in 0.5 s)") in text
    for p in problems:
        assert p in text


def test_untrusted_text_is_escaped_and_missing_files_are_shown(tmp_path):
    spec = SimpleNamespace(name="fig", kind="figure", needs="scores", title="A <b> title", description="d",
                           module="plots.fake")
    manifest = {"fig/a.png": {"output": "fig", "fingerprint": "f1", "drawn": "2025-01-01T00:00:00+00:00",
                              "keys": {"group": "ft1"}}}
    write_gallery(tmp_path, {"fig": spec}, manifest,
                  {"rendered": [], "problems": ["x/</script><script>alert(1)</script>.json: bad"]})
    page = (tmp_path / "index.html").read_text()
    assert "<script>alert(1)" not in page and "A &lt;b&gt; title" in page
    assert "fig/a.png is missing on disk" in page and "<img" not in page
    js = (tmp_path / "gallery.js").read_text()
    assert "</script" not in js and gallery_data(tmp_path)["outputs"]["fig/a.png"]["drawn"] == "2025-01-01 00:00:00 UTC"


@pytest.mark.parametrize("md, expected", [
    ("## Title", "<h3>Title</h3>"),
    ("- a\n- b", "<ul><li>\na\n</li><li>\nb\n</li></ul>"),
    ("- **Standard**\n  - x `y`", "<ul><li>\n<strong>Standard</strong>\n<ul><li>\nx <code>y</code>\n</li></ul>\n</li></ul>"),
    ("one\ntwo\n\n3 < 4 & 5", "<p>one two</p>\n<p>3 &lt; 4 &amp; 5</p>"),
])
def test_markdown_subset(md, expected):
    assert markdown_html(md) == expected


def test_no_summary_gives_a_note(tmp_path):
    write_gallery(tmp_path, {}, {}, {"rendered": []})
    page = (tmp_path / "index.html").read_text()
    assert "No findings yet" in page and "No figures yet" in page


def test_malformed_file_shows_on_page_after_a_run(tmp_path, config):
    root = tmp_path / "exp"
    write_eval(root, "pt1", "distance", {"checkpoint-1": {"eval_distance_metric_mean": 3.0}})
    write_eval(root, "pt1", "crossing", '{"checkpoint-1": {"eval_crossing_metric_mean": 0.')  # half-written
    pipeline = Pipeline(config, Options(data=root, out=tmp_path / "out", only=("summary",), jobs=1, progress=False))
    try:
        pipeline.run()
    finally:
        pipeline.close()
    status = gallery_data(tmp_path / "out")["status"]
    assert "1 evaluation file skipped as malformed" in status and "crossing" in status


def test_a_pdf_figure_is_shown_inline_with_its_proportions(tmp_path):
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(7.5, 2.5))
    (tmp_path / "fig").mkdir()
    fig.savefig(tmp_path / "fig" / "ft1.pdf")
    manifest = {"fig/ft1.pdf": {"output": "fig", "fingerprint": "f", "drawn": "2025-01-01T00:00:00+00:00",
                                "keys": {"group": "ft1"}}}
    write_gallery(tmp_path, {"fig": fake_spec("fig", "A PDF figure")}, manifest, {"rendered": []})
    page = (tmp_path / "index.html").read_text()
    data = gallery_data(tmp_path)
    obj = re.search(r'<object class="pdf"[^>]*>', page).group(0)
    assert f'data="fig/ft1.pdf?v={data["outputs"]["fig/ft1.pdf"]["v"]}#view=FitH' in obj
    assert 'data-rel="fig/ft1.pdf"' in obj and "aspect-ratio: 540 / 180" in obj  # 7.5 x 2.5 in at 72 pt/in
    assert '<a href="fig/ft1.pdf">open fig/ft1.pdf</a></object>' in page  # without a PDF viewer: a link


def test_thumbnails_are_large_enough_to_read_and_cards_of_a_row_share_a_height(rendered):
    """Each grid's columns are at least 72% of its widest figure's pixels, so 7 pt text (14.6 px at
    150 dpi) shows at >= 10.5 px; the cards of a row stretch to one height (no holes beside a short one)."""
    import re

    from runner.gallery import THUMB_SCALE, png_width
    grids = re.findall(r'<div class="grid" style="--thumb: (\d+)px">(.*?)</div>\s*(?=<h3>|</section>)',
                       rendered.html, re.S)
    assert grids
    for thumb, body in grids:
        rels = re.findall(r'data-rel="([^"]+\.png)"', body)
        widest = max(png_width(rendered.out / rel) for rel in rels)
        assert int(thumb) >= THUMB_SCALE * widest
        assert 7 / 72 * 150 * int(thumb) / widest >= 10.5
    css = (REPO / "runner" / "gallery_assets" / "gallery.css").read_text()
    grid_rule = re.search(r"\.grid \{(.*?)\}", css, re.S).group(1)
    card_rule = re.search(r"\.card \{(.*?)\}", css, re.S).group(1)
    assert "var(--thumb" in grid_rule and "align-items: stretch" in grid_rule
    assert "display: flex" in card_rule and "flex-direction: column" in card_rule


def test_parts_of_a_split_figure_are_labelled_as_parts():
    from runner.gallery import _part_label, _slice_label
    keys = {"group": "ft2", "condition": "standard", "part": 2, "parts": 2}
    assert _slice_label(keys, load_config(REPO / "rules.yaml")) == "Standard, part 2 of 2"
    assert _part_label({"group": "ft2", "part": 1, "parts": 2}) == " (part 1 of 2)" and _part_label({"group": "x"}) == ""
