"""Every figure of the bundled example (examples/experiments: 2 seeds x 29 experiments), at a two-column
page's width and at one column's, passes the page checks of plots_helpers.check_page: it fits the width
and 9 in of height, no text overlaps another, every line label is joined to its line's end and every log
axis has at least three labelled ticks."""
from __future__ import annotations

import dataclasses

import pytest

import plots_helpers
from testing_helpers import REPO

WIDTHS = {"double": 7.5, "single": 3.5}


@pytest.fixture(scope="module")
def bundled():
    """The bundled example's views (every one a figure needs), computed once for the module."""
    from analysis.scores import Gaps
    from analysis.views import compute
    from plots.registry import discover
    from utils.config import load_config
    from utils.loading import load

    config = load_config(REPO / "rules.yaml")
    specs = {n: s for n, s in discover().items() if s.kind == "figure"}
    loaded = load(REPO / "examples" / "experiments", config)
    views = compute({s.needs for s in specs.values()}, loaded.frame, config, Gaps())
    return config, specs, views


def figure_names() -> list[str]:
    from plots.registry import discover
    return sorted(n for n, s in discover().items() if s.kind == "figure")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", figure_names())
def test_every_bundled_figure_passes_the_page_checks(bundled, name: str, width: str) -> None:
    import matplotlib.pyplot as plt

    from plots.registry import OutputContext
    from runner.planning import jobs_of_slice, split

    config, specs, views = bundled
    config = dataclasses.replace(config, plot_width=WIDTHS[width])
    spec = specs[name]
    if spec.needs not in views or views[spec.needs].empty:
        pytest.skip(f"{name}: the bundled example has no {spec.needs}")
    drawn = 0
    for keys, part in split(spec, views[spec.needs]):
        for part_keys, _ in jobs_of_slice(spec, keys, part, config):
            fig = spec.func(part, OutputContext(config, part_keys, spec.title))
            try:
                plots_helpers.check_page(fig, WIDTHS[width])
            except AssertionError as exc:
                raise AssertionError(f"{name} {part_keys} at {width} width: {exc}") from None
            finally:
                plt.close(fig)
            drawn += 1
    assert drawn
