"""Shared figure pieces in plots/style.py: the experiment rows of the bar and matrix figures are labelled
once, on the first panel, and every panel shows the same rows."""
from __future__ import annotations

from pathlib import Path

import pytest

from testing_helpers import render


@pytest.mark.parametrize("name", ["comparison", "normalized", "raw_differences", "heatmap", "prediction"])
def test_rows_are_labelled_once_and_aligned_across_panels(name: str, small_tree: Path, config) -> None:
    figs, _ = render(name, small_tree, config)
    assert figs
    for keys, fig in figs:
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        first, others = panels[0], panels[1:]
        labels = [t.get_text() for t in first.get_yticklabels()]
        assert len(labels) >= 2 and all(labels), (keys, labels)
        assert others, keys
        for ax in others:
            assert ax.get_ylim() == pytest.approx(first.get_ylim()), (keys, ax.get_title())
            # no hidden tick per row: building and measuring them was a third of a bar figure's time
            assert len(ax.get_yticks()) == 0, (keys, ax.get_title())
