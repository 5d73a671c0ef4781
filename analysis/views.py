"""Named analysis views: the DataFrames that outputs declare they need (`needs=`).

Each view is computed at most once per run, and only when a selected output needs it.
A view may depend on other views (predictions are computed from scores).
"""
from __future__ import annotations

from typing import Callable

import pandas as pd

from analysis.findings import compute_findings
from analysis.runs import run_curves, run_values, with_baseline
from analysis.scores import Gaps, build_curves, build_predictions, build_scores, primary
from analysis.seeds import seed_curves, seed_points, seed_predictions, seed_scores
from utils.config import Config

FILE_COLUMNS = ["path", "reader", "records", "status", "reason"]


def files_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-file status table: the runner hands in the loader's (`LoadResult.status_frame`); from
    the tidy frame alone it is empty."""
    return pd.DataFrame(columns=FILE_COLUMNS)


ViewFn = Callable[[pd.DataFrame, Config, Gaps, Callable[[str], pd.DataFrame]], pd.DataFrame]

# name -> fn(tidy frame, config, gaps, get(other view name))
VIEWS: dict[str, ViewFn] = {
    "metrics": lambda frame, config, gaps, get: frame,
    # every file under the data root with the reader that took it, its records and status (utils.loading)
    "files": lambda frame, config, gaps, get: files_view(frame),
    # the reported metric of every task at every step, which both scores and curves start from
    "primary": lambda frame, config, gaps, get: primary(frame, config),
    "scores": lambda frame, config, gaps, get: build_scores(frame, config, gaps, get("primary")),
    "curves": lambda frame, config, gaps, get: build_curves(frame, config, get("primary")),
    "predictions": lambda frame, config, gaps, get: build_predictions(get("scores")),
    # seed-averaged scores: one row per seed-free experiment x condition x task (mean, std, n);
    # this and the views below hold only runs scored against a baseline (the others: run_*)
    "seed_scores": lambda frame, config, gaps, get: seed_scores(with_baseline(get("scores")), config),
    # per-seed score rows with their model's mean, std and n alongside (dots + error bars)
    "seed_points": lambda frame, config, gaps, get: seed_points(with_baseline(get("scores")), get("seed_scores")),
    # multi-task predictions averaged over seeds (each seed predicted from its own single-task runs)
    "seed_predictions": lambda frame, config, gaps, get: seed_predictions(get("predictions"), config),
    # checkpoint curves averaged over seeds: one row per seed-free experiment x condition x task x step
    "seed_curves": lambda frame, config, gaps, get: seed_curves(with_baseline(get("curves")), config),
    # runs without a baseline: last value per run (seeds by name) and per-metric checkpoint curves
    "run_values": lambda frame, config, gaps, get: run_values(get("scores")),
    "run_curves": lambda frame, config, gaps, get: run_curves(get("curves")),
    "findings": lambda frame, config, gaps, get: compute_findings(get("seed_scores"), get("predictions"), config),
    # the scores of each seed on its own, for one heatmap per seed; empty unless plots.seed_heatmap
    "seed_heatmap": lambda frame, config, gaps, get: get("scores") if config.seed_heatmap else get("scores").iloc[:0],
}


# What each view is computed from, so a figure can point to the tables holding its numbers.
SOURCES: dict[str, tuple[str, ...]] = {
    "curves": ("metrics",), "scores": ("metrics",), "predictions": ("scores",),
    "seed_scores": ("scores",), "seed_points": ("scores", "seed_scores"), "seed_predictions": ("predictions",),
    "findings": ("seed_scores", "predictions"), "seed_curves": ("curves",), "seed_heatmap": ("scores",),
    "run_values": ("scores",), "run_curves": ("curves",),
}


def lineage(name: str) -> set[str]:
    """The view itself and every view it is computed from, transitively."""
    seen = {name}
    for source in SOURCES.get(name, ()):
        seen |= lineage(source)
    return seen


def compute(needed: set[str], frame: pd.DataFrame, config: Config, gaps: Gaps) -> dict[str, pd.DataFrame]:
    """The views in `needed` (and whatever they depend on), each computed once."""
    done: dict[str, pd.DataFrame] = {}

    def get(name: str) -> pd.DataFrame:
        if name not in done:
            done[name] = VIEWS[name](frame, config, gaps, get)
        return done[name]

    for name in sorted(needed):
        get(name)
    return done
