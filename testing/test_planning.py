"""Planning a run (runner/planning.py): the order views are computed in, the order outputs go to
the workers, and the tables written in blocks being byte for byte the tables written whole."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.scores import Gaps
from analysis.views import SOURCES, VIEWS, compute, lineage, still_needed
from plots.registry import OutputContext, discover
from runner.blocks import plan_blocks, read_layout, render_in_blocks, runs
from utils.hashing import row_hashes
from runner.planning import FIRST_VIEWS, ViewCache, plan_jobs, render_priority, split, view_order
from testing_helpers import inferred_config
from utils.loading import load


def test_the_scores_are_computed_first_then_the_records_and_files() -> None:
    order = view_order(set(VIEWS))
    assert order[:3] == list(FIRST_VIEWS) == ["scores", "metrics", "files"]
    assert order.index("scores") < order.index("curves") < order.index("seed_curves")
    assert sorted(order) == sorted(VIEWS)


@pytest.mark.parametrize("first, second", [
    (("table", 0.4), ("table", 2.5)),  # scores.csv before the LaTeX tables
    (("table", 2.5), ("figure", 0.1)),  # every table before any figure
    (("table", 30.0), ("table", None)),  # a new table may be slow
    (("figure", 3.0), ("figure", 0.2)),  # the slowest figure first: the pool finishes evenly
    (("figure", None), ("figure", 3.0)),  # a new figure counts as slow
    (("figure", None, 5_000_000), ("figure", None, 600)),  # of two new figures, the one of more rows first
    (("figure", 3.0, 10), ("figure", 0.2, 10**6)),  # known seconds go before rows
    (("table", 0.4, 10), ("table", 2.5, 0)),  # tables: by their seconds alone
])
def test_render_priority(first: tuple, second: tuple) -> None:
    assert render_priority(*first) < render_priority(*second)


@pytest.mark.parametrize("name", sorted(n for n, s in discover().items() if s.blocks_by))
def test_a_table_in_blocks_is_the_whole_table_cold_and_after_a_change(name: str, small_tree: Path, config,
                                                                     tmp_path: Path) -> None:
    spec = discover()[name]
    view = compute({spec.needs}, load(small_tree, config).frame, config, Gaps())[spec.needs]
    assert view[spec.blocks_by].nunique() > 1

    def draw(rows):
        return spec.func(rows, OutputContext(config, {}, spec.title))

    target, cache = tmp_path / "table", tmp_path / "blocks"
    render_in_blocks(draw, view, spec.blocks_by, target, cache, "s")
    assert target.read_bytes() == draw(view).encode()
    kept, _ = read_layout(cache, target)
    assert len(kept) == len(runs(view[spec.blocks_by])) >= view[spec.blocks_by].nunique()  # a block per run
    changed = view.copy()
    last = changed[spec.blocks_by] == changed[spec.blocks_by].iloc[-1]
    number = view.select_dtypes("float64").columns[0]  # value, actual, ...
    changed.loc[last, number] = changed.loc[last, number] * 1.5
    assert len(plan_blocks(changed, spec.blocks_by, target, cache, "s").rows) == last.sum()  # only its rows
    render_in_blocks(draw, changed, spec.blocks_by, target, cache, "s")
    assert target.read_bytes() == draw(changed).encode() != draw(view).encode()


@pytest.mark.parametrize("tree", ["sweep", "runs without a baseline"])
def test_each_view_asks_only_for_views_its_sources_list(tree: str, small_tree: Path, trainer_runs: Path,
                                                        config) -> None:
    """A run lets go of a view once no view still to come lists it among its sources (SOURCES,
    transitively): a view asking for one its sources do not list would find it gone."""
    root, rules = (small_tree, config) if tree == "sweep" else (trainer_runs, inferred_config(trainer_runs, config))
    views = ViewCache(load(root, rules).frame, rules, Gaps())
    asked: dict[str, set[str]] = {}
    stack: list[str] = []
    real = views._get

    def spy(name: str):
        if stack:
            asked.setdefault(stack[-1], set()).add(name)
        stack.append(name)
        try:
            return real(name)
        finally:
            stack.pop()

    views._get = spy  # what each view's function is handed to ask for others
    for name in sorted(VIEWS):
        spy(name)
    assert not views.errors
    assert asked["scores"] == {"primary"} and {"curves", "run_overview"} <= asked["findings"]
    for name, names in asked.items():
        assert names <= set(SOURCES.get(name, ())), name


def test_a_released_view_asked_for_again_fails_the_view_by_name(small_tree: Path, config) -> None:
    views = ViewCache(load(small_tree, config).frame, config, Gaps())
    assert views.get("scores") is not None and views.computed("primary")
    views.release(keep={"scores"})
    assert "primary" not in views.done and views.computed("primary") and "scores" in views.done
    assert views.get("curves") is None  # curves asks for primary, released
    assert "'primary' was released" in views.errors["curves"]


@pytest.mark.parametrize("pages", [1, 2])
def test_a_view_of_one_slice_is_handed_over_whole_not_copied(pages: int) -> None:
    spec = discover()["overview"]  # one figure per (group, page)
    view = pd.DataFrame({"group": pd.Categorical(["runs"] * 6), "page": [1, 1, 1, pages, pages, pages],
                         "value": range(6)})
    parts = list(split(spec, view))
    assert [keys for keys, _ in parts] == [{"group": "runs", "page": p} for p in range(1, pages + 1)]
    assert all(type(keys["page"]) is int for keys, _ in parts)  # plain values: file names, the manifest
    assert (parts[0][1] is view) == (pages == 1)  # one slice: the view's own rows, 5 M of a log tree
    assert sum(len(part) for _, part in parts) == 6


def test_each_slice_takes_its_own_baselines_rows_for_its_keys() -> None:
    """Split per (group, condition): each slice holds the baseline rows of the baselines its runs name, of
    its condition only, first and in the view's order and index, then its own rows."""
    spec = discover()["comparison"]  # per group and condition
    rows = [("pt1", "baseline", "pt1", c) for c in ("standard", "atlantis")] \
        + [("pt2", "baseline", "pt2", c) for c in ("standard", "atlantis")] \
        + [(f"pt1_ft1-{i}", "ft1", "pt1", c) for i in (1, 2) for c in ("standard", "atlantis")] \
        + [("pt2_ft2-1", "ft2", "pt2", c) for c in ("standard", "atlantis")]
    view = pd.DataFrame(rows, columns=["experiment", "group", "baseline_experiment", "condition"])
    view = view.iloc[::-1].reset_index(drop=True).assign(value=range(len(rows)))
    for keys, part in split(spec, view):
        mine = view[(view["group"] == keys["group"]) & (view["condition"] == keys["condition"])]
        named = set(mine["baseline_experiment"])
        base = view[(view["group"] == "baseline") & view["experiment"].isin(named)
                    & (view["condition"] == keys["condition"])]
        pd.testing.assert_frame_equal(part, pd.concat([base, mine]))
        assert set(base["experiment"]) == {"pt1" if keys["group"] == "ft1" else "pt2"} and len(base) == 1


def test_a_computed_view_needs_none_of_its_sources_again() -> None:
    assert still_needed(["findings"], computed=set()) == lineage("findings") == {  # nothing computed: all of it
        "findings", "seed_scores", "predictions", "curves", "run_overview", "suite_headline", "scores", "primary",
        "metrics", "diagnostics", "run_suite"}
    later = still_needed(["run_overview", "findings"], computed={"metrics", "primary", "curves", "diagnostics", "scores"})
    assert "primary" not in later  # the curves and scores are computed: what they came from is not held
    assert {"curves", "diagnostics", "metrics", "scores", "run_suite"} <= later  # sources of views still to come
    assert still_needed(["findings"], computed=set(VIEWS)) == {"findings"}


@pytest.mark.parametrize("needs, baselines", [("seed_points", True), ("seed_scores", True), ("predictions", False)])
def test_slices_take_the_views_row_hashes_as_if_each_were_hashed_alone(needs: str, baselines: bool, small_tree: Path,
                                                                      config, monkeypatch) -> None:
    """A view is hashed once and each slice takes its rows' hashes: the same fingerprints as
    hashing each slice alone (what a view of another index gets)."""
    import runner.planning as planning
    specs = [s for s in discover().values() if s.needs == needs and s.per]
    view = compute({needs}, load(small_tree, config).frame, config, Gaps())[needs]
    assert (view["group"] == "baseline").any() == baselines and isinstance(view.index, pd.RangeIndex)
    hashed: list[int] = []
    monkeypatch.setattr(planning, "row_hashes", lambda data: hashed.append(len(data)) or row_hashes(data))
    by_position = plan_jobs(specs, {needs: view}, config, config, {})
    assert hashed == [len(view)]  # the view once, however many ways it is split
    hashed.clear()
    elsewhere = view.set_axis(pd.RangeIndex(7, 7 + len(view)))  # not positions: each slice hashed alone
    alone = plan_jobs(specs, {needs: elsewhere}, config, config, {})
    assert len(hashed) > len({s.per for s in specs}) and sum(hashed) > len(view)  # each slice, baselines again
    assert [(j.rel_path, j.fingerprint) for j in by_position] == [(j.rel_path, j.fingerprint) for j in alone]
    assert len({j.fingerprint for j in by_position}) == len(by_position)
