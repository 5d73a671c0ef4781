"""Shared fixtures: small evaluation trees in the real layout, written into tmp_path."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from testing_helpers import REPO, write_trainer_run  # noqa: E402
from utils.config import Config, load_config  # noqa: E402
from utils.synthetic import write_tree  # noqa: E402


@pytest.fixture
def config() -> Config:
    """The shipped rules.yaml."""
    return load_config(REPO / "rules.yaml")


@pytest.fixture
def undescribed_config(config: Config) -> Config:
    """The shipped rules without `training:`: the sweep's families are scored against pt1 as usual, but
    nobody says what they trained on, so no task is trained or untrained for them."""
    return dataclasses.replace(config, training={})


@pytest.fixture
def scored_runs(tmp_path: Path, config: Config) -> tuple[Path, Config]:
    """Trainer runs the naming pattern does not describe, scored against one of them: `hf/base` is the
    baseline (as with --baseline base) of `hf/alpha`, `hf/beta`, `hf/gamma` (accuracy and loss, three
    evaluations each); and the rules with the tasks a zero-config run infers."""
    from testing_helpers import inferred_config
    root = tmp_path / "runs"
    write_trainer_run(root / "hf" / "base", [0.60, 0.70, 0.75])
    write_trainer_run(root / "hf" / "gamma", [0.62, 0.80, 0.86])
    write_trainer_run(root / "hf" / "alpha", [0.55, 0.65, 0.72])
    write_trainer_run(root / "hf" / "beta", [0.70, 0.78, 0.81])
    return root, dataclasses.replace(inferred_config(root, config), baseline="base")


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    """pt1 plus 2 ft1 and 2 ft2 experiments, 3 checkpoints, both conditions, all tasks."""
    root = tmp_path / "experiments"
    write_tree(root, seeds=1, ft1=2, ft2=2, checkpoints=3)
    return root


@pytest.fixture
def trainer_runs(tmp_path: Path) -> Path:
    """Runs without a baseline: bert in two seeds (bert-seed1, bert-seed2) and roberta, three Trainer
    evaluations each (steps 100-300) of accuracy, loss and a Matthews correlation that goes below 0."""
    root = tmp_path / "runs"
    write_trainer_run(root / "bert-seed1", [0.70, 0.80, 0.84], {"matthews_correlation": [-0.2, 0.1, 0.3]})
    write_trainer_run(root / "bert-seed2", [0.72, 0.90, 0.88], {"matthews_correlation": [-0.1, 0.2, 0.5]})
    write_trainer_run(root / "roberta", [0.60, 0.75, 0.79], {"matthews_correlation": [-0.3, -0.15, -0.05]})
    return root


@pytest.fixture(autouse=True)
def _close_figures():
    """Every test starts without figures left open by the one before."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")
