"""The page checks every figure test relies on (plots_helpers.check_page) fail on what they promise to
catch, after the single layout draw they share, and pass a figure that is fine."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import plots_helpers  # noqa: E402


def _figure(fault: str):
    fig, ax = plt.subplots(figsize=(3.5, 2.5))
    ax.plot([1, 2, 3], [1, 4, 9])
    ax.set_title("A against B", fontsize=9)
    if fault == "overlap":
        ax.text(1.5, 5, "first text", fontsize=9)
        ax.text(1.55, 5.1, "second text", fontsize=9)
    elif fault == "small font":
        ax.set_xlabel("step", fontsize=5)
    elif fault == "outside":
        fig.text(0.9, 0.5, "a long note running off the edge", fontsize=9)
    elif fault == "few log labels":
        ax.set_yscale("log")
        ax.set_ylim(2, 2.5)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    elif fault == "too wide":
        fig.set_size_inches(8.0, 2.5)
    elif fault == "label off its line":
        ax.text(3.5, 2, "run a", fontsize=9, gid="label")
        ax.plot([3, 3.2], [9, 6], gid="leader", label="_leader:run a")
    elif fault == "label on its line":
        ax.text(3.2, 9, "run a", fontsize=9, gid="label", va="center")
        ax.plot([3, 3.2], [9, 9], gid="leader", label="_leader:run a")
    for t in ax.get_xticklabels() + ax.get_yticklabels():
        t.set_fontsize(8)
    fig.subplots_adjust(left=0.2, bottom=0.2, right=0.75)
    return fig


@pytest.mark.parametrize("fault, message", [("overlap", "overlapping texts"), ("small font", "fonts below"),
                                            ("outside", "text outside the figure"),
                                            ("few log labels", "fewer than 3 labelled ticks"),
                                            ("too wide", "in wide, page"),
                                            ("label off its line", "leader ends")])
def test_each_fault_fails_the_page_check(fault: str, message: str) -> None:
    fig = _figure(fault)
    try:
        with pytest.raises(AssertionError, match=message):
            plots_helpers.check_page(fig, 3.5)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("fault", ["none", "label on its line"])
def test_a_sound_figure_passes(fault: str) -> None:
    fig = _figure(fault)
    try:
        plots_helpers.check_page(fig, 3.5)
    finally:
        plt.close(fig)
