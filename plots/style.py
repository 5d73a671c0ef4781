"""Shared look of every figure: a colour-blind-safe palette, readable sizes, labels from rules.yaml."""
from __future__ import annotations

import math

import matplotlib
import pandas as pd

# Okabe & Ito (2008), distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
TRAINED = "#D55E00"   # vermillion: a task the experiment was trained on
UNTRAINED = "#0072B2"  # blue: every other task
BASELINE = "#000000"
MISSING_HATCH = "////"
DIVERGING_CMAP = "PuOr"  # colour-blind safe, symmetric around zero

RC = {
    "figure.dpi": 110, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 10,
    "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
    "figure.titlesize": 12, "axes.spines.top": False, "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO), "savefig.bbox": "tight",
    "image.cmap": "viridis",
}


def apply_style() -> None:
    """Set the project's rcParams in this (worker) process."""
    matplotlib.rcParams.update(RC)


def grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) for n panels."""
    cols = min(n, max_cols) or 1
    return math.ceil(n / cols) or 1, cols


def short_name(experiment: str, baseline: str) -> str:
    """`pt1_ft2-9` -> `ft2-9`; `pt1_seed2_ft2-9` -> `ft2-9 (seed2)`."""
    rest = experiment[len(baseline):].lstrip("_-") if experiment.startswith(baseline) else experiment
    seed = baseline.split("_", 1)[1] if "_" in baseline else ""
    return f"{rest} ({seed})" if seed and rest else (rest or experiment)


def labels_for(frame: pd.DataFrame) -> list[str]:
    return [short_name(e, b) for e, b in zip(frame["experiment"], frame["baseline_experiment"])]
