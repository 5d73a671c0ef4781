"""Planning a run (runner/planning.py): the order views are computed in, the order outputs go to
the workers, and the tables written in blocks being byte for byte the tables written whole."""
from __future__ import annotations

from pathlib import Path

import pytest

from analysis.scores import Gaps
from analysis.views import VIEWS, compute
from plots.registry import OutputContext, discover
from runner.blocks import render_in_blocks, runs
from runner.planning import FIRST_VIEWS, render_priority, view_order
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

    cache = tmp_path / "blocks"
    assert render_in_blocks(draw, view, spec.blocks_by, cache, "s") == draw(view)
    blocks = len(list(cache.glob("*.block")))
    assert blocks == len(runs(view[spec.blocks_by])) >= view[spec.blocks_by].nunique()
    changed = view.copy()
    last = changed[spec.blocks_by] == changed[spec.blocks_by].iloc[-1]
    number = view.select_dtypes("float64").columns[0]  # value, actual, ...
    changed.loc[last, number] = changed.loc[last, number] * 1.5
    assert render_in_blocks(draw, changed, spec.blocks_by, cache, "s") == draw(changed) != draw(view)
    assert len(list(cache.glob("*.block"))) == blocks
