"""The incremental runner in-process (jobs=1): what a rerun redraws, and a cache never trusted blindly."""
from __future__ import annotations

import itertools
import json
import os
import pickle
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from testing_helpers import REPO, write_eval
from utils.config import load_config
from utils.hashing import row_hashes
from utils.loading import ParseCache, load, reading_rules
import runner.pipeline as pipeline_module
from runner.blocks import read_layout
from runner.fingerprint import files_hash
from runner.pipeline import Pipeline
from runner.report import Options

PNG = b"\x89PNG\r\n\x1a\n"
EXTRA = textwrap.dedent('''
    """A cheap test figure and table, loaded from rules.yaml plots.modules."""
    import matplotlib.pyplot as plt

    from plots.registry import figure, table


    @figure("extra_fig_N", needs="scores", per=("group",), writes="extra_fig/{group}", title="Extra")
    def draw(data, ctx):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot(range(len(data)), data["value"].fillna(0).to_numpy())
        ax.set_title("LABEL")
        return fig


    @table("extra_table_N", needs="scores", writes="extra/experiments.txt")
    def listing(data, ctx):
        return "\\n".join(sorted(set(data["experiment"]))) + "\\n"
''')
ALL = {"extra_fig/ft1.png", "extra_fig/ft2.png", "extra/experiments.txt", "tables/scores.csv",
       "tables/metrics.csv"}
_ids = itertools.count()


@pytest.fixture
def setup(tmp_path, small_tree):
    """(make_pipeline, out, write_module) over the small tree with an extra plot module.

    Output names are unique per test: the registry lives for the whole (pytest) process."""
    n = next(_ids)
    module = tmp_path / f"extra_plots_{n}.py"
    only = (f"extra_fig_{n}", f"extra_table_{n}", "scores_csv", "metrics_csv")

    def write_module(text: str) -> None:
        module.write_text(text.replace("_N", f"_{n}"))
        for name in [m for m in sys.modules if m.endswith(module.stem)]:
            del sys.modules[name]  # as a new process would: import the edited module afresh

    write_module(EXTRA)
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw["plots"] = {"modules": [str(module)], "format": "png", "dpi": 40}
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(raw))
    out = tmp_path / "out"

    def make(**opts) -> Pipeline:
        config = load_config(rules)
        options = Options(data=opts.pop("data", small_tree), out=opts.pop("out", out), only=opts.pop("only", only),
                          jobs=opts.pop("jobs", 1), progress=False, **opts)
        return Pipeline(config, options)

    return make, out, write_module


def run(make, **opts):
    pipeline = make(**opts)
    try:
        return pipeline.run()
    finally:
        pipeline.close()


def manifest(out: Path) -> dict:
    return json.loads((out / ".cache" / "manifest.json").read_text())


def change_value(root: Path, experiment: str, folder: str, factor: float = 0.5) -> Path:
    """Scale the last checkpoint's reported metric of one evaluation file (a real data change)."""
    path = root / experiment / "evals" / folder / "eval_data" / "evaluation_results.json"
    data = json.loads(path.read_text())
    last = list(data)[-1]
    task = folder.removeprefix("atlantis_")
    data[last][f"eval_{task}_metric_mean"] *= factor
    path.write_text(json.dumps(data))
    return path


def remove_group_ft2(root: Path) -> None:
    """Delete every evaluation of the small tree's ft2 experiments: the ft2 slice vanishes."""
    for exp in ("pt1_ft2-1", "pt1_ft2-2"):
        for path in (root / exp).rglob("*.json"):
            path.unlink()


def test_first_run_draws_everything_and_a_noop_rerun_nothing(setup):
    make, out, _ = setup
    first = run(make)
    assert set(first.rendered) == ALL and not first.failed and first.exit_code == 0
    assert (out / "extra_fig" / "ft1.png").read_bytes()[:8] == PNG
    assert (out / "index.html").stat().st_size > 0
    drawn = {rel: e["drawn"] for rel, e in manifest(out)["outputs"].items()}

    again = run(make)
    assert again.rendered == [] and again.fast and again.up_to_date == len(ALL)
    assert again.files == first.files == 70
    assert {rel: e["drawn"] for rel, e in manifest(out)["outputs"].items()} == drawn


@pytest.mark.parametrize("data", ["absolute", "relative", "dot"])
def test_a_noop_rerun_holds_however_the_data_root_is_written(setup, small_tree, monkeypatch, data):
    make, out, _ = setup
    if data != "absolute":
        monkeypatch.chdir(small_tree if data == "dot" else small_tree.parent)
    root = {"absolute": small_tree, "relative": Path(small_tree.name), "dot": Path(".")}[data]
    first = run(make, data=root)
    again = run(make, data=root)  # a root of "." walks "./a" where the loader's paths read "a"
    assert first.parsed == 70 and again.fast and again.rendered == [] and again.files == 70
    change_value(small_tree, "pt1_ft1-1", "angle")
    third = run(make, data=root)
    assert not third.fast and third.parsed == 1 and third.rendered


def test_a_touched_but_identical_file_is_checked_and_nothing_redrawn(setup, small_tree):
    make, out, _ = setup
    run(make)
    path = small_tree / "pt1_ft1-1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    report = run(make)
    assert not report.fast and report.parsed == 1 and report.rendered == []


def test_one_changed_file_redraws_only_the_outputs_using_it(setup, small_tree, monkeypatch):
    make, out, _ = setup
    run(make)
    before = manifest(out)["outputs"]
    change_value(small_tree, "pt1_ft1-1", "angle")
    hashed = []
    monkeypatch.setattr(pipeline_module, "files_hash",
                        lambda rows: hashed.append(1) or files_hash(rows))
    report = run(make)
    assert len(hashed) == 1  # the stale stamp checked and the new one made from one hash of the listing
    assert run(make).fast  # ... which the next run's listing matches
    assert report.parsed == 1 and report.changed == ["pt1_ft1-1/evals/angle/eval_data/evaluation_results.json"]
    # ft1's figure and the tables (whole views) draw from the file; ft2's figure does not
    assert set(report.rendered) == ALL - {"extra_fig/ft2.png"}
    after = manifest(out)["outputs"]
    assert after["extra_fig/ft2.png"] == before["extra_fig/ft2.png"]
    assert after["extra_fig/ft1.png"]["fingerprint"] != before["extra_fig/ft1.png"]["fingerprint"]
    assert after["extra_fig/ft1.png"]["experiments"] == ["pt1", "pt1_ft1-1", "pt1_ft1-2"]


@pytest.mark.parametrize("jobs", [1, 2], ids=["in-process", "workers"])
def test_metrics_csv_rebuilt_from_blocks_is_the_cold_runs_byte_for_byte(setup, small_tree, tmp_path, jobs,
                                                                        monkeypatch):
    make, out, _ = setup
    run(make, jobs=jobs)
    layout = out / ".cache" / "blocks" / "metrics_csv"
    before, _ = read_layout(layout, out / "tables" / "metrics.csv")
    assert len(before) == 5  # pt1 and its 4 fine-tuned experiments
    change_value(small_tree, "pt1_ft1-1", "angle")
    sent = []  # what the runner hands to the process that writes each output
    real = pipeline_module.shipped
    monkeypatch.setattr(pipeline_module, "shipped", lambda *a: sent.append(real(*a)) or sent[-1])
    assert "tables/metrics.csv" in run(make, jobs=jobs).rendered
    table = next(j for j in sent if j.rel_path == "tables/metrics.csv")
    # only the changed experiment's rows travel; the other four blocks are copied from the last file
    assert set(table.data["experiment"]) == {"pt1_ft1-1"} and len(table.blocks.names) == 5
    assert sum(r is not None for r in table.blocks.ranges) == 4
    cold_rows = pd.read_csv(out / "tables" / "metrics.csv")
    assert len(table.data) == (cold_rows["experiment"] == "pt1_ft1-1").sum() > 0
    after, _ = read_layout(layout, out / "tables" / "metrics.csv")
    assert len(after) == 5 and len(set(after) - set(before)) == 1  # pt1_ft1-1's block, nothing else
    sent.clear()
    change_value(small_tree, "pt1_ft1-2", "angle")
    run(make, jobs=jobs, force=True)  # --force: every block formatted again
    assert len(next(j for j in sent if j.rel_path == "tables/metrics.csv").data) == len(cold_rows)
    cold = tmp_path / "cold"
    run(make, out=cold)
    assert (out / "tables" / "metrics.csv").read_bytes() == (cold / "tables" / "metrics.csv").read_bytes()
    assert b"pt1_ft1-1" in (out / "tables" / "metrics.csv").read_bytes()


def test_a_rebuild_from_the_files_events_named_is_the_cold_runs_byte_for_byte(setup, small_tree, tmp_path):
    make, out, _ = setup
    pipeline = make(jobs=2)
    try:
        pipeline.run()
        assert pipeline.walked and not pipeline.reloaded
        changed = [change_value(small_tree, "pt1_ft1-1", "angle"), change_value(small_tree, "pt1_ft2-2", "atlantis_inside")]
        report = pipeline.run(hint={str(p) for p in changed})
        assert not pipeline.walked and pipeline.reloaded
        assert report.parsed == 2 and report.changed == sorted(p.relative_to(small_tree).as_posix() for p in changed)
        assert "tables/scores.csv" in report.rendered and not report.failed
        assert pipeline.run(hint={str(changed[0])}).fast  # named again, unchanged: nothing to do
        gone = small_tree / "pt1_ft1-1" / "evals" / "perimeter" / "eval_data" / "evaluation_results.json"
        content = gone.read_bytes()
        gone.unlink()  # a file gone: the tree is walked and loaded whole
        report = pipeline.run(hint={str(gone)})
        assert pipeline.walked and not pipeline.reloaded and report.files == 69
        gone.write_bytes(content)
        assert pipeline.run(hint={str(gone)}).files == 70 and pipeline.walked  # a new file: walked
    finally:
        pipeline.close()
    cold = tmp_path / "cold"
    run(make, out=cold)
    pipeline = make()
    try:
        pipeline.run()
        assert pipeline.walked and not pipeline.reloaded
    finally:
        pipeline.close()
    for table in ("tables/scores.csv", "tables/metrics.csv", "extra/experiments.txt"):
        assert (out / table).read_bytes() == (cold / table).read_bytes(), table


def test_a_module_code_change_redraws_only_that_modules_outputs(setup):
    make, out, module = setup
    run(make)
    before = manifest(out)["outputs"]
    module(EXTRA.replace('"LABEL"', '"Another label"'))
    report = run(make)
    assert set(report.rendered) == {"extra_fig/ft1.png", "extra_fig/ft2.png", "extra/experiments.txt"}
    after = manifest(out)["outputs"]
    assert after["tables/scores.csv"] == before["tables/scores.csv"]


def test_a_deleted_output_is_redrawn(setup):
    make, out, _ = setup
    run(make)
    (out / "extra_fig" / "ft2.png").unlink()
    report = run(make)
    assert report.rendered == ["extra_fig/ft2.png"]
    assert (out / "extra_fig" / "ft2.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("garbage", ["manifest", "parse_cache", "both", "hostile_pickle", "table", "hostile_table"])
def test_a_corrupt_cache_is_rebuilt_never_trusted(setup, small_tree, tmp_path, garbage):
    make, out, _ = setup
    run(make)
    cache = out / ".cache"
    assert (cache / "table.npz").is_file()  # the last load, read before the parse cache
    if garbage in ("manifest", "both"):
        (cache / "manifest.json").write_bytes(os.urandom(300))
    if garbage in ("parse_cache", "both", "hostile_pickle"):
        (cache / "table.npz").unlink()  # without it, the parse cache is read
    if garbage in ("parse_cache", "both"):
        (cache / "parsed.pickle").write_bytes(b"\x80\x05garbage" + os.urandom(300))
    marker = tmp_path / "pwned"
    if garbage == "hostile_pickle":  # a pickle that would run code when loaded
        (cache / "parsed.pickle").write_bytes(pickle.dumps(_Touch(marker)))
    if garbage == "table":
        (cache / "table.npz").write_bytes(os.urandom(300))
    if garbage == "hostile_table":  # an object array, pickled inside the npz
        with open(cache / "table.npz", "wb") as fh:
            np.savez(fh, meta=np.array([_Touch(marker)], dtype=object))
    change_value(small_tree, "pt1_ft2-1", "atlantis_inside")
    report = run(make)
    assert not report.failed and not marker.exists()
    assert report.parsed == (70 if garbage in ("parse_cache", "both", "hostile_pickle") else 1)
    assert set(report.rendered) == (ALL if garbage in ("manifest", "both") else ALL - {"extra_fig/ft1.png"})
    fresh = run(make, out=tmp_path / "fresh")  # the same data from scratch
    for rel in ("tables/scores.csv", "tables/metrics.csv"):
        assert (out / rel).read_text() == (tmp_path / "fresh" / rel).read_text()
    assert json.loads((cache / "manifest.json").read_text())["version"] == 1
    assert run(make).fast and fresh.parsed == 70  # and the rebuilt cache is good


@pytest.mark.parametrize("drift", [1, 2])
def test_a_few_changed_files_are_read_again_into_the_saved_table_not_written_into_it(setup, small_tree, tmp_path,
                                                                                       monkeypatch, drift):
    """The saved table is written again only once `TABLE_DRIFT` files were read into it: until
    then each run reads the files changed since it was written (a few ms each) instead of writing
    the whole table (180 MB at 100,000 files)."""
    import runner.pipeline as pipeline
    import runner.planning as planning
    monkeypatch.setattr(pipeline, "TABLE_DRIFT", drift + 1)
    make, out, _ = setup
    run(make)
    table = out / ".cache" / "table.npz"
    written = table.read_bytes()
    records = len(load(small_tree, make().config).frame)
    with np.load(table) as saved:  # the records' row hashes, kept with them
        assert len(saved["row_hashes"]) == records
    hashed: list[int] = []
    monkeypatch.setattr(planning, "row_hashes", lambda data: hashed.append(len(data)) or row_hashes(data))
    parsed = []
    for i, (exp, folder) in enumerate([("pt1_ft1-1", "angle"), ("pt1_ft2-1", "atlantis_inside"),
                                       ("pt1_ft1-2", "compass")][:drift + 1]):
        change_value(small_tree, exp, folder)
        hashed.clear()
        report = run(make)
        assert not report.failed and "tables/scores.csv" in report.rendered
        assert records not in hashed  # the kept hashes, the changed files' rows hashed on reading
        parsed.append(report.parsed)
        fresh = tmp_path / f"fresh{i}"
        run(make, out=fresh)
        for rel in ("tables/scores.csv", "tables/metrics.csv"):
            assert (out / rel).read_bytes() == (fresh / rel).read_bytes(), rel
    assert parsed == list(range(1, drift + 2))  # each run reads every file changed since the table was written
    assert table.read_bytes() != written  # the run that reached TABLE_DRIFT wrote it
    change_value(small_tree, "pt1_ft2-2", "angle")
    assert run(make).parsed == 1  # read into the table written then
    assert run(make).fast


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_force_redraws_everything_and_keeps_the_rest_of_the_manifest(setup):
    make, out, _ = setup
    run(make)
    assert set(run(make, force=True).rendered) == ALL
    assert set(run(make, force=True, only=("scores_csv",)).rendered) == {"tables/scores.csv"}
    assert set(manifest(out)["outputs"]) == ALL
    assert run(make).rendered == []


def test_a_same_size_rewrite_within_the_mtime_granularity_is_seen(setup, small_tree):
    """Content hashing where mtime is unreliable: same size, same mtime, different numbers."""
    make, out, _ = setup
    path = small_tree / "pt1_ft1-1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
    text = path.read_text()
    fresh = time.time_ns() + 30 * 10**9  # an mtime too recent to vouch for the content
    os.utime(path, ns=(fresh, fresh))
    run(make)
    swapped = text.replace('"eval_angle_metric_mean": 1', '"eval_angle_metric_mean": 2', 1)
    assert swapped != text and len(swapped) == len(text)
    path.write_text(swapped)
    os.utime(path, ns=(fresh, fresh))
    report = run(make)
    assert not report.fast and report.parsed == 1 and "tables/metrics.csv" in report.rendered


def test_outputs_of_a_vanished_slice_are_removed(setup, small_tree):
    make, out, _ = setup
    run(make)
    remove_group_ft2(small_tree)
    report = run(make)
    assert report.removed == ["extra_fig/ft2.png"] and not (out / "extra_fig" / "ft2.png").exists()
    assert "extra_fig/ft2.png" not in manifest(out)["outputs"]


class _StopAfterFirstView(Pipeline):
    """Stops (as Ctrl-C does) as soon as the first view's outputs are planned."""

    def plan(self, views, hashes=None):
        jobs = super().plan(views, hashes)
        self.stop.set()
        return jobs


def test_a_run_stopped_while_planning_removes_nothing_as_stale(setup, small_tree):
    make, out, _ = setup
    run(make)
    remove_group_ft2(small_tree)
    pipeline = make()
    pipeline.__class__ = _StopAfterFirstView
    try:
        report = pipeline.run()
    finally:
        pipeline.close()
    # only the first view (the scores) was planned: metrics.csv is unknown, so nothing is stale yet
    assert report.interrupted and report.removed == [] and (out / "extra_fig" / "ft2.png").exists()
    assert report.exit_code == 0 and report.planned == 3  # scores.csv, the extra table, ft1's figure
    assert run(make).removed == ["extra_fig/ft2.png"]


@pytest.mark.parametrize("spool_over", [None, 0], ids=["rows in the job", "rows in spool files"])
def test_a_dying_worker_hands_its_outputs_back_to_the_main_process(setup, caplog, monkeypatch, spool_over):
    """A worker killed while drawing (OOM killer, segfault): what it held and everything still
    queued is drawn in the main process (a spooled job from its file); the run completes and
    leaves no spool file."""
    if spool_over is not None:
        monkeypatch.setattr("runner.render.SPOOL_OVER", spool_over)
    make, out, module = setup
    module(EXTRA.replace("def draw(data, ctx):\n", textwrap.dedent(f"""\
        def draw(data, ctx):
            import os, signal
            if os.getpid() != {os.getpid()}:  # in a worker: die as the OOM killer would make it
                os.kill(os.getpid(), signal.SIGKILL)
        """)))
    report = run(make, jobs=2)
    assert report.failed == [] and set(report.rendered) == ALL
    assert (out / "extra_fig" / "ft1.png").read_bytes()[:8] == PNG
    assert (out / "extra_fig" / "ft2.png").read_bytes()[:8] == PNG
    assert "a worker process died" in caplog.text
    assert (out / ".cache" / "spool").is_dir() == (spool_over is not None)  # the jobs went by file
    assert not list((out / ".cache" / "spool").glob("*"))


def test_a_failing_output_is_retried_and_the_others_are_kept(setup, small_tree, tmp_path):
    make, out, module = setup
    module(EXTRA.replace('ax.set_title("LABEL")', 'raise RuntimeError("boom")'))
    report = run(make)
    assert {o for o, _ in report.failed} == {"extra_fig/ft1.png", "extra_fig/ft2.png"}
    assert "RuntimeError: boom" in report.failed[0][1] and report.exit_code == 1
    assert (out / "tables" / "scores.csv").exists()
    again = run(make)  # failures are not cached: the next run tries again
    assert not again.fast and len(again.failed) == 2 and again.rendered == []


def test_parse_cache_reads_each_file_once_per_change(setup, small_tree, config):
    cache = ParseCache()
    from utils.loading import load
    first = load(small_tree, config, cache)
    assert len(first.parsed) == 70
    assert load(small_tree, config, cache).parsed == []
    bad = write_eval(small_tree, "pt1_ft1-1", "angle", '{"checkpoint-1000": {"eval_ang')
    third = load(small_tree, config, cache)
    assert third.parsed == [bad] and [p.path for p in third.problems] == [bad]
    assert len(third.frame) < len(first.frame)


@pytest.mark.parametrize("session", [False, True], ids=["one run", "watch session"])
def test_a_one_shot_run_saves_its_parse_cache_and_lets_go_of_it(setup, small_tree, session):
    """A run that will not read again writes the parse cache after loading and keeps only each
    file's stamp; a watch session keeps it in memory. Either way the next run finds every file parsed."""
    make, out, _ = setup
    pipeline = make()
    pipeline.session = session
    try:
        report = pipeline.run()
        assert report.parsed == 70 and not report.failed
        assert (pipeline._parse_cache is None) is not session
        saved = ParseCache(out / ".cache" / "parsed.pickle", reading_rules(pipeline.rules))
        assert len(saved.entries) == 70
    finally:
        pipeline.close()
    again = run(make)
    assert again.fast and again.rendered == []
    change_value(small_tree, "pt1_ft1-1", "angle")
    assert run(make).parsed == 1  # the other 69 files came from the saved cache


def test_a_failing_analysis_view_fails_only_the_outputs_needing_it(setup, monkeypatch):
    from analysis import views

    def broken(frame, config, gaps, get):
        raise KeyError("no such column")

    make, out, _ = setup
    monkeypatch.setitem(views.VIEWS, "scores", broken)
    report = run(make)
    assert set(report.rendered) == {"tables/metrics.csv"}  # needs the tidy frame only
    reasons = dict(report.failed)
    assert reasons["extra_fig/*.png"].startswith("view 'scores': KeyError") and report.exit_code == 1


def test_the_main_process_plans_without_pyplot(tmp_path, small_tree):
    """The plot modules import matplotlib's pieces, not pyplot (figures, axes: ~0.3 s): a run's main
    process only plans and hands the drawing to its workers, which import pyplot themselves."""
    import subprocess
    script = textwrap.dedent(f'''
        import sys
        from pathlib import Path
        from utils.config import load_config
        from runner.pipeline import Pipeline
        from runner.report import Options
        pipeline = Pipeline(load_config(None), Options(data=Path({str(small_tree)!r}), out=Path({str(tmp_path / "out")!r}),
                                                       jobs=2, progress=False))
        report = pipeline.run()
        pipeline.close()
        print(len(report.rendered), not report.failed, "matplotlib.pyplot" in sys.modules,
              "matplotlib.figure" in sys.modules)
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    drawn, ok, pyplot, figure_module = done.stdout.split()
    assert int(drawn) > 10 and ok == "True"
    assert (pyplot, figure_module) == ("False", "False")
    assert any((tmp_path / "out").rglob("*.png"))


def test_a_primed_pipeline_reads_the_first_change_into_its_table(setup, small_tree, tmp_path):
    """Watch mode starting up to date loads nothing; `prime` loads the table then, so the first
    change is read into it, with the outputs of a cold run."""
    make, out, _ = setup
    run(make)
    pipeline = make()
    try:
        assert pipeline.run().fast and pipeline.last_load is None
        pipeline.prime()
        assert pipeline.last_load is not None and len(pipeline.last_load.paths) == 70
        changed = change_value(small_tree, "pt1_ft1-2", "compass")
        report = pipeline.run(hint={str(changed)})
        assert pipeline.reloaded and report.parsed == 1 and "tables/scores.csv" in report.rendered
    finally:
        pipeline.close()
    cold = tmp_path / "cold"
    run(make, out=cold)
    assert (out / "tables" / "scores.csv").read_bytes() == (cold / "tables" / "scores.csv").read_bytes()
    (out / ".cache" / "table.npz").unlink()  # no table kept (a log tree's): nothing to prime from
    pipeline = make()
    try:
        assert pipeline.run().fast
        pipeline.prime()
        assert pipeline.last_load is None
    finally:
        pipeline.close()


@pytest.mark.parametrize("fails", [False, True], ids=["run", "run that raises"])
def test_a_run_collects_cyclic_garbage_less_often_and_restores_the_threshold(setup, monkeypatch,
                                                                             fails: bool) -> None:
    """The main process's run allocates millions of objects (a listing, file statuses, views): the
    collector waits for FEWER_COLLECTIONS allocations meanwhile, and the process's own threshold
    is back afterwards, also when the run raises."""
    import gc

    from runner.memory import FEWER_COLLECTIONS

    make, out, _ = setup
    seen = []
    real = pipeline_module.check_paths

    def probe(*args, **kwargs):
        seen.append(gc.get_threshold())
        if fails:
            raise RuntimeError("a probe's failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline_module, "check_paths", probe)
    before = gc.get_threshold()
    pipeline = make()
    try:
        if fails:
            with pytest.raises(RuntimeError, match="probe"):
                pipeline.run()
        else:
            assert not pipeline.run().failed and (out / "tables" / "scores.csv").is_file()
    finally:
        pipeline.close()
    assert seen == [FEWER_COLLECTIONS] and FEWER_COLLECTIONS[0] > before[0]
    assert gc.get_threshold() == before


def test_a_watch_session_keeps_the_table_after_changes_earlier_runs_read_into_it(setup, small_tree, monkeypatch):
    """A one-shot rerun reads a changed file into the saved table, not into parsed.pickle. A watch session
    primed from that table, then given a change, must still vouch for the table and keep it: the next
    one-shot run reads its change into the table rather than loading every file again."""
    import utils.loading

    make, out, _ = setup
    run(make)
    change_value(small_tree, "pt1_ft1-1", "distance")
    assert run(make).parsed == 1  # read into the saved table; parsed.pickle keeps that file's old stamp
    pipeline = make()
    pipeline.session = True
    try:
        assert pipeline.run().fast
        pipeline.prime()
        changed = change_value(small_tree, "pt1_ft1-2", "compass")
        report = pipeline.run(hint={str(changed)})
        assert pipeline.reloaded and report.parsed == 1 and not report.failed
    finally:
        pipeline.close()
    assert (out / ".cache" / "table.npz").is_file()

    def whole(*args, **kwargs):
        raise AssertionError("loaded every file again: the watch session dropped the table")

    monkeypatch.setattr(utils.loading, "load", whole)
    change_value(small_tree, "pt1_ft2-1", "angle")
    report = run(make)
    assert report.parsed == 1 and not report.failed
    cold = out.parent / "cold"
    monkeypatch.undo()
    run(make, out=cold)
    assert (out / "tables" / "scores.csv").read_bytes() == (cold / "tables" / "scores.csv").read_bytes()
