"""Shared fixtures: small evaluation trees in the real layout, written into tmp_path."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from testing_helpers import REPO  # noqa: E402
from utils.config import Config, load_config  # noqa: E402
from utils.synthetic import write_tree  # noqa: E402


@pytest.fixture
def config() -> Config:
    """The shipped rules.yaml."""
    return load_config(REPO / "rules.yaml")


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    """pt1 plus 2 ft1 and 2 ft2 experiments, 3 checkpoints, both conditions, all tasks."""
    root = tmp_path / "experiments"
    write_tree(root, seeds=1, ft1=2, ft2=2, checkpoints=3)
    return root



@pytest.fixture(autouse=True)
def _close_figures():
    """Every test starts without figures left open by the one before."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
