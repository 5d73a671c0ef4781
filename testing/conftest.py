"""Shared fixtures: small evaluation trees in the real layout, written into tmp_path."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from utils.config import Config, load_config  # noqa: E402
from utils.synthetic import write_tree  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


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


def write_eval(root: Path, experiment: str, folder: str, checkpoints: dict) -> Path:
    """Write one evaluation_results.json in the real layout."""
    path = root / experiment / "evals" / folder / "eval_data" / "evaluation_results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(checkpoints))
    return path
