"""Partwise views kept from run to run (runner/partials.py): the parts whose source rows are
unchanged are reused, the others computed, and the view is the one a whole computation gives."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analysis.scores import Gaps
from analysis.views import PARTWISE
from runner.partials import PartMemo, _columns, _frame
from runner.pipeline import PARTS_FILE, Pipeline
from runner.planning import ViewCache
from runner.report import Options
from utils.loading import load
from utils.synthetic import write_tree


@pytest.fixture
def seeded_tree(tmp_path: Path) -> Path:
    """pt1 and 3 ft1 and 3 ft2 experiments in 3 seeds, 3 checkpoints."""
    root = tmp_path / "experiments"
    write_tree(root, seeds=3, ft1=3, ft2=3, checkpoints=3)
    return root


def _view(frame: pd.DataFrame, config, name: str, memo: PartMemo | None = None) -> pd.DataFrame:
    views = ViewCache(frame, config, Gaps(), partials=memo)
    view = views.get(name)
    assert view is not None, views.errors
    return view


@pytest.mark.parametrize("name", sorted(PARTWISE))
@pytest.mark.parametrize("changed, reused", [(None, "all"), ("pt1_seed2_ft1-2", "all but one"), ("pt1", "fewer")])
def test_a_partwise_view_recomputes_only_the_parts_whose_rows_changed(name: str, changed: str | None, reused: str,
                                                                      seeded_tree: Path, config, tmp_path: Path) -> None:
    frame = load(seeded_tree, config).frame
    memo = PartMemo("rules")
    assert_frame_equal(_view(frame, config, name, memo), _view(frame, config, name), check_exact=True)
    parts = len(memo.views[name][1])
    assert parts > 1 and memo.reused[name] == 0 and memo.dirty
    memo.save(tmp_path / "parts.pickle")
    memo = PartMemo.load(tmp_path / "parts.pickle", "rules")  # as the next run finds it
    assert len(memo.views[name][1]) == parts and not memo.dirty
    if changed is not None:
        frame = frame.copy()
        rows = frame["experiment"] == changed
        assert rows.any()
        frame.loc[rows, "value"] = frame.loc[rows, "value"] * 1.25
    whole = _view(frame, config, name)
    assert_frame_equal(_view(frame, config, name, memo), whole, check_exact=True)
    expected = {"all": parts, "all but one": parts - 1}.get(reused)
    if expected is None:  # the baseline scores every run: some parts, never all
        assert memo.reused[name] < parts
    else:
        assert memo.reused[name] == expected
    assert memo.dirty == (changed is not None)


@pytest.mark.parametrize("changed", [None, "pt1_seed2_ft1-2"])
def test_a_view_no_part_has_rows_of_stays_as_a_whole_computation_gives_it(changed: str | None, tmp_path: Path,
                                                                          config) -> None:
    """No multi-task run: every seed's predictions are empty, before and after a change."""
    root = tmp_path / "experiments"
    write_tree(root, seeds=3, ft1=2, ft2=0, checkpoints=2)
    frame = load(root, config).frame
    memo = PartMemo("rules")
    assert _view(frame, config, "predictions", memo).empty and len(memo.views["predictions"][1]) == 3
    if changed is not None:
        frame = frame.copy()
        frame.loc[frame["experiment"] == changed, "value"] *= 2
    again = _view(frame, config, "predictions", memo)
    assert_frame_equal(again, _view(frame, config, "predictions"), check_exact=True)
    assert memo.reused["predictions"] == (3 if changed is None else 2)


def test_a_memo_of_other_code_or_rules_or_unreadable_keeps_nothing(seeded_tree: Path, config, tmp_path: Path) -> None:
    frame = load(seeded_tree, config).frame
    memo = PartMemo("rules")
    _view(frame, config, "seed_scores", memo)
    path = tmp_path / "parts.pickle"
    memo.save(path)
    assert PartMemo.load(path, "rules").views and not PartMemo.load(path, "other rules").views
    path.write_bytes(b"\x80\x04not a pickle")
    assert not PartMemo.load(path, "rules").views
    path.write_bytes(__import__("pickle").dumps(("parts-1", "rules", {"seed_scores": {"m": ("d", Path("x"))}})))
    assert not PartMemo.load(path, "rules").views  # a class: never unpickled


def test_a_frame_keeps_its_values_and_dtypes_as_builtins() -> None:
    frame = pd.DataFrame({
        "name": pd.Series(["a", None, "c"], dtype="str"), "index": pd.Series([1, None, 3], dtype="Int64"),
        "seed": np.array([1, 2, 3], dtype="int64"), "small": np.array([1, 0, -1], dtype="int8"),
        "flag": [True, False, True], "value": [0.1, np.nan, 1e-300], "note": pd.Series(["x", None, "z"], dtype=object),
    })
    back = _frame(__import__("pickle").loads(__import__("pickle").dumps(_columns(frame))))
    assert_frame_equal(back, frame, check_exact=True)
    with pytest.raises(TypeError, match="when"):
        _columns(pd.DataFrame({"when": [pd.Timestamp("2026-01-01")]}).astype(object))
    with pytest.raises(TypeError, match="categorical"):  # its unused categories would be lost
        _columns(pd.DataFrame({"label": pd.Categorical(["a"], categories=["a", "b"])}))


def test_a_rerun_after_a_change_writes_what_a_fresh_run_writes(seeded_tree: Path, config, tmp_path: Path) -> None:
    """The reused parts reach the outputs: every table after a change, byte for byte a fresh run's."""
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    only = ("scores_by_seed", "predictions_csv", "summary", "raw_metrics_tex")
    Pipeline(config, Options(data=seeded_tree, out=kept, only=only, jobs=1, progress=False)).run()
    assert (kept / ".cache" / PARTS_FILE).is_file()
    path = seeded_tree / "pt1_seed3_ft1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json"
    path.write_text(path.read_text().replace("_mean\": ", "_mean\": 1"))  # every checkpoint
    rerun = Pipeline(config, Options(data=seeded_tree, out=kept, only=only, jobs=1, progress=False))
    report = rerun.run()
    assert "tables/scores_by_seed.csv" in report.rendered and "tables/predictions.csv" in report.rendered
    assert rerun._part_memo.reused == {"seed_scores": 6, "predictions": 2}  # of 7 models, 3 seeds
    Pipeline(config, Options(data=seeded_tree, out=fresh, only=only, jobs=1, progress=False)).run()
    written = sorted(p.relative_to(fresh) for p in (fresh / "tables").iterdir()) + [Path("summary.md")]
    assert len(written) == 4
    for rel in written:
        assert (kept / rel).read_bytes() == (fresh / rel).read_bytes(), rel


@pytest.mark.parametrize("name", sorted(PARTWISE))
def test_a_partwise_views_order_puts_its_rows_back_from_any_order(name: str, seeded_tree: Path, config) -> None:
    """What `order` is handed: the parts' rows concatenated in whatever order the memo holds them."""
    views = ViewCache(load(seeded_tree, config).frame, config, Gaps())
    spec = PARTWISE[name]
    rows = spec.rows(spec.source(views.get), config)
    shuffled = rows.sample(frac=1, random_state=3).reset_index(drop=True)
    assert not shuffled.equals(rows)
    assert_frame_equal(spec.order(shuffled, config), rows.reset_index(drop=True), check_exact=True)


def test_a_run_keeps_its_parts_before_it_draws_its_outputs(seeded_tree: Path, config, tmp_path: Path,
                                                            monkeypatch) -> None:
    """parts.pickle is written once every view is computed, while the outputs are still being drawn
    (the main process waits for the workers then), and not written a second time at the end."""
    import runner.pipeline as pipeline_module
    out = tmp_path / "out"
    only = ("scores_by_seed", "predictions_csv", "summary")
    seen, render = [], pipeline_module.render_job

    def drawing(job, *args, **kwargs):
        seen.append((out / ".cache" / PARTS_FILE).is_file())
        return render(job, *args, **kwargs)
    writes, save = [], PartMemo.save

    def saving(self, path):
        writes.append(self.dirty)
        return save(self, path)
    monkeypatch.setattr(pipeline_module, "render_job", drawing)
    monkeypatch.setattr(PartMemo, "save", saving)
    pipeline = Pipeline(config, Options(data=seeded_tree, out=out, only=only, jobs=1, progress=False))
    report = pipeline.run()
    assert len(report.rendered) == 3 and seen == [True, True, True]
    assert writes.count(True) == 1
    kept = PartMemo.load(out / ".cache" / PARTS_FILE, pipeline._part_memo.key)
    assert sorted(kept.views) == ["predictions", "seed_scores"]
