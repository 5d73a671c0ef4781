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


# The views of runs nobody scored against a baseline (zero-config trees): the sweep has none, so the
# figures drawn from them (overview, suite table and dots, subtasks) are tested on such trees
# (test_plots_overview.py), not here.
RUN_VIEWS = {"run_overview", "run_suite", "suite_headline", "suite_subtasks", "run_values", "run_curves"}


@pytest.fixture(scope="module")
def bundled():
    """The bundled example's views (every one a figure needs), computed once for the module, with
    plots.seed_heatmap on so the per-seed heatmaps are drawn too."""
    from analysis.scores import Gaps
    from analysis.views import compute
    from plots.registry import discover
    from utils.config import load_config
    from utils.loading import load

    config = dataclasses.replace(load_config(REPO / "rules.yaml"), seed_heatmap=True)
    specs = {n: s for n, s in discover().items() if s.kind == "figure" and s.module.startswith("plots.")}
    loaded = load(REPO / "examples" / "experiments", config)
    views = compute({s.needs for s in specs.values()}, loaded.frame, config, Gaps())
    return config, specs, views


def figure_names() -> list[str]:
    """The figures the bundled sweep draws: every one plots/ registers (not those other tests register)
    but those of runs without a baseline."""
    from plots.registry import discover
    return sorted(n for n, s in discover().items()
                  if s.kind == "figure" and s.module.startswith("plots.") and s.needs not in RUN_VIEWS)


def test_the_bundled_example_draws_exactly_the_figures_checked_here(bundled):
    """What is parametrized below is what the bundled example produces: each of those views has rows,
    each view of runs without a baseline has none (a figure type added for the sweep is checked, not
    skipped)."""
    _, specs, views = bundled
    drawn = {n for n, s in specs.items() if not views[s.needs].empty}
    assert drawn == set(figure_names())
    assert "heatmap_by_seed" in drawn and len(drawn) == 8


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", figure_names())
def test_every_bundled_figure_passes_the_page_checks(bundled, name: str, width: str) -> None:
    import matplotlib.pyplot as plt

    from plots.registry import OutputContext
    from runner.planning import jobs_of_slice, split

    config, specs, views = bundled
    config = dataclasses.replace(config, plot_width=WIDTHS[width])
    spec = specs[name]
    assert not views[spec.needs].empty, f"{name}: the bundled example has no {spec.needs}"
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


@pytest.mark.parametrize("name", ["comparison", "normalized", "raw_differences"])
def test_the_bundled_sweep_keeps_vermillion_and_blue(bundled, name: str) -> None:
    """Every experiment of the sweep is described under training: in the shipped rules.yaml: its points
    are vermillion (trained) or blue (not trained), both present, never a run colour; the legend says
    so and the forgetting view is titled forgetting."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from plots.registry import OutputContext
    from plots.style import RUN_COLOURS, TRAINED, UNTRAINED
    from runner.planning import split

    config, specs, views = bundled
    spec = specs[name]
    for keys, part in split(spec, views[spec.needs]):
        fig = spec.func(part, OutputContext(config, keys, spec.title))
        colours = {c for ax in fig.axes for _, c in plots_helpers.means(ax).values()}
        assert colours == {to_hex(TRAINED), to_hex(UNTRAINED)}, keys
        assert not colours & {to_hex(c) for c in RUN_COLOURS}
        legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        assert legend[:2] == ["trained on this task", "not trained on it"]
        if name == "raw_differences":
            assert "(forgetting)" in plots_helpers.title(fig)
        plt.close(fig)
