"""The gallery in a real headless Chromium: images load from file://, a redraw shows up live, and a
click on a thumbnail opens it enlarged with its description and tables.

Uses the Debian packages /usr/bin/chromium and /usr/bin/chromedriver (.ci/run installs them);
nothing downloads a browser or a driver at run time. Skipped, with the reason, when they are absent.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from testing_helpers import write_eval
from runner.pipeline import Pipeline
from runner.report import Options
from utils.synthetic import write_tree

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--window-size=1280,1600")
ONLY = ("comparison", "summary", "scores_csv")
REDRAWN = "comparison/ft1_standard.png"  # the figure the second run must redraw
UNTOUCHED = "comparison/ft1_atlantis.png"  # same experiments, other condition: unchanged

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
    reason=f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver; .ci/run does)")


def run(config, root: Path, out: Path):
    pipeline = Pipeline(config, Options(data=root, out=out, only=ONLY, jobs=1, progress=False))
    try:
        return pipeline.run()
    finally:
        pipeline.close()


def versions(out: Path) -> dict[str, str]:
    text = (out / "gallery.js").read_text()
    data = json.loads(text[len("window.GALLERY = "):].rstrip().rstrip(";"))
    return {rel: o["v"] for rel, o in data["outputs"].items()}


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.options import Options as ChromeOptions
    from selenium.webdriver.chrome.service import Service
    options = ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


LOADED = """return Array.from(document.images).map(i => [i.getAttribute('data-rel'), i.complete, i.naturalWidth]);"""


def img_state(driver, rel: str) -> dict:
    return driver.execute_script(
        "const i = document.querySelector(`img[data-rel='${arguments[0]}']`);"
        "return {src: i.getAttribute('src'), v: i.getAttribute('data-v'), w: i.naturalWidth, done: i.complete};",
        rel)


def test_page_loads_every_image_and_picks_up_a_redraw_without_reload(tmp_path, config, browser):
    from selenium.webdriver.support.ui import WebDriverWait
    root, out = tmp_path / "exp", tmp_path / "out"
    write_tree(root, seeds=1, ft1=1, ft2=0, checkpoints=2, tasks=("distance", "crossing"))
    assert run(config, root, out).exit_code == 0
    first = versions(out)

    browser.get((out / "index.html").as_uri())
    wait = WebDriverWait(browser, 20, poll_frequency=0.2)
    wait.until(lambda d: all(done for _, done, _ in d.execute_script(LOADED)))
    images = browser.execute_script(LOADED)
    pngs = sorted(rel for rel in first if rel.endswith(".png"))
    assert sorted(rel for rel, _, _ in images) == pngs == [UNTOUCHED, REDRAWN]
    assert all(width > 0 for _, _, width in images), images
    assert "No evaluation file was skipped as malformed" in browser.find_element("id", "status").text
    browser.execute_script("window.marker = 1;")
    before = img_state(browser, REDRAWN)
    assert before["src"] == f"{REDRAWN}?v={first[REDRAWN]}"

    # A new evaluation lands (pt1_ft1-1 gets much better on standard distance) and a half-written
    # file appears; the second run redraws only the standard-data figure and rewrites gallery.js.
    path = root / "pt1_ft1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json"
    data = json.loads(path.read_text())
    for checkpoint in data.values():
        checkpoint["eval_distance_metric_mean"] = 0.5
    path.write_text(json.dumps(data))
    write_eval(root, "pt1_ft1-1", "compass", '{"checkpoint-1000": {"eval_compass_metric_mean": 0.')
    report = run(config, root, out)
    second = versions(out)
    assert REDRAWN in report.rendered and UNTOUCHED not in report.rendered
    assert second[REDRAWN] != first[REDRAWN] and second[UNTOUCHED] == first[UNTOUCHED]

    wait.until(lambda d: img_state(d, REDRAWN)["v"] == second[REDRAWN])
    wait.until(lambda d: img_state(d, REDRAWN)["done"])
    after = img_state(browser, REDRAWN)
    assert browser.execute_script("return window.marker;") == 1  # same page: no reload happened
    assert after["src"] == f"{REDRAWN}?v={second[REDRAWN]}" and after["w"] > 0
    assert img_state(browser, UNTOUCHED)["src"] == f"{UNTOUCHED}?v={first[UNTOUCHED]}"
    wait.until(lambda d: "1 evaluation file skipped as malformed" in d.find_element("id", "status").text)
    findings = browser.find_element("id", "findings-body").text
    assert re.search(r"Distance: ft1-1, 0\.50* distance error", findings), findings  # the findings refreshed too


def test_a_click_on_a_thumbnail_zooms_with_description_and_keys_step_and_close(tmp_path, config, browser):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from plots.registry import discover
    root, out = tmp_path / "exp", tmp_path / "out"
    write_tree(root, seeds=1, ft1=1, ft2=1, checkpoints=2, tasks=("distance", "crossing"))
    assert run(config, root, out).exit_code == 0
    browser.get((out / "index.html").as_uri())
    wait = WebDriverWait(browser, 10, poll_frequency=0.1)
    zoom = browser.find_element("id", "zoom")
    assert not zoom.is_displayed()

    thumb = browser.find_element("css selector", f"img[data-rel='{REDRAWN}']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", thumb)
    thumb.click()
    wait.until(lambda d: zoom.is_displayed())
    assert browser.current_url.endswith("index.html")  # the page stays; the PNG did not open bare
    spec = discover()["comparison"]
    assert browser.find_element("id", "zoom-title").text == f"{spec.title} · ft1: Single-task fine-tuning · Standard"
    caption = browser.find_element("id", "zoom-caption")
    assert spec.description in caption.text
    assert "tables/scores.csv" in [a.get_attribute("href").rsplit("/", 2)[-2] + "/" + a.get_attribute("href")
                                   .rsplit("/", 1)[-1] for a in caption.find_elements("tag name", "a")]
    big = browser.find_element("id", "zoom-img")
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", big))
    assert big.get_attribute("src").split("?")[0].endswith(REDRAWN)
    scale = "const i = arguments[0]; return Math.min(i.clientWidth / i.naturalWidth, i.clientHeight / i.naturalHeight);"
    # the lightbox draws it at least at its own size and no smaller than the thumbnail (which is never above
    # its pixels, and at least 72% of them, so its text reads: on this 1280 px window, nearly as large)
    thumb_scale, big_scale = browser.execute_script(scale, thumb), browser.execute_script(scale, big)
    assert big_scale >= 1.0 and big_scale >= thumb_scale and 0.72 <= thumb_scale <= 1.0 + 1e-9

    zoom.send_keys(Keys.ARROW_RIGHT)  # the next figure in page order: ft1 on Atlantis
    wait.until(lambda d: d.find_element("id", "zoom-title").text.endswith("fine-tuning · Atlantis (OOD)"))
    assert big.get_attribute("src").split("?")[0].endswith(UNTOUCHED)
    zoom.send_keys(Keys.ESCAPE)
    wait.until(lambda d: not zoom.is_displayed())
    assert browser.execute_script("return document.getElementById('zoom').open") is False


def test_runs_without_a_baseline_come_first_and_the_filter_finds_a_run(browser, tmp_path, config):
    """Two run groups of Trainer runs: the first screen shows a run group's overview; typing a run's
    name hides the figures and sections it is not in; a folded detail holding a match opens."""
    from selenium.webdriver.common.by import By
    from testing_helpers import inferred_config, write_trainer_run
    root = tmp_path / "tree"
    write_trainer_run(root / "vision" / "vit", [0.5, 0.6, 0.7])
    write_trainer_run(root / "vision" / "resnet", [0.4, 0.55, 0.65])
    write_trainer_run(root / "text" / "bert", [0.7, 0.8, 0.85], {"f1": [0.6, 0.7, 0.75]})
    write_trainer_run(root / "text" / "roberta", [0.72, 0.83, 0.86], {"f1": [0.62, 0.71, 0.8]})
    out = tmp_path / "out"
    pipeline = Pipeline(inferred_config(root, config), Options(data=root, out=out, jobs=1, progress=False,
                                                               only=("overview", "suite_table", "last_values")))
    try:
        assert not pipeline.run().failed
    finally:
        pipeline.close()
    browser.get((out / "index.html").as_uri())
    first = browser.execute_script(
        "const s = document.querySelector('section'); const r = s.getBoundingClientRect();"
        "return [s.id, r.top < window.innerHeight, s.querySelector('img').getAttribute('data-rel')];")
    assert first == ["g-text", True, "overview/text_1.png"]
    visible = "return Array.from(document.querySelectorAll('.card')).filter(c => c.checkVisibility())" \
              ".map(c => c.querySelector('img').getAttribute('data-rel')).sort();"
    everything = browser.execute_script(visible)
    assert len(everything) == 6
    box = browser.find_element(By.ID, "filter")
    box.send_keys("resnet")
    shown = browser.execute_script(visible)
    assert shown == ["overview/vision_1.png", "suite/vision_dots.png", "suite/vision_table.png"]
    assert browser.execute_script("return document.getElementById('g-text').hidden") is True
    assert browser.find_element(By.ID, "filter-count").text == "3 of 6 figures"
    contents = "return Array.from(document.querySelectorAll('.contents a')).filter(a => a.checkVisibility())" \
               ".map(a => a.getAttribute('href'));"
    assert browser.execute_script(contents) == ["#c-overview-vision_1-png", "#c-suite-vision_table-png",
                                                "#c-suite-vision_dots-png"]
    box.clear()
    box.send_keys("f1")  # a metric only the text runs report
    assert all(rel.startswith(("overview/text", "suite/text")) for rel in browser.execute_script(visible))
    box.clear()
    box.send_keys("x")
    box.send_keys("\b")  # cleared: everything back
    assert browser.execute_script(visible) == everything
    browser.execute_script("document.querySelector('#g-text details.fold').open = false;")  # a section folds
    assert len(browser.execute_script(visible)) == 3
