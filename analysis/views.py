"""Named analysis views: the DataFrames that outputs declare they need (`needs=`).

Each view is computed at most once per run, and only when a selected output needs it.
A view may depend on other views (predictions are computed from scores).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Iterable

import numpy as np
import pandas as pd

from analysis.figure_data import with_heatmap_limit, with_run_index
from analysis.findings import compute_findings
from analysis.frames import columns
from analysis.overview import run_overview, run_suite, suite_headline, suite_subtasks
from analysis.runs import run_curves, run_values, with_baseline
from analysis.scores import (Gaps, build_curves, build_diagnostics, build_predictions, build_scores,
                             order_predictions, primary)
from analysis.seeds import (order_seed_curves, order_seed_scores, seed_curves, seed_free_models, seed_points,
                            seed_predictions, seed_scores)
from utils.config import Config

FILE_COLUMNS = ["path", "reader", "records", "status", "reason"]


def files_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-file status table: the runner hands in the loader's (`LoadResult.status_frame`); from
    the tidy frame alone it is empty."""
    return pd.DataFrame(columns=FILE_COLUMNS)


ViewFn = Callable[[pd.DataFrame, Config, Gaps, Callable[[str], pd.DataFrame]], pd.DataFrame]


@dataclass(frozen=True)
class Partwise:
    """A view whose rows of one part (a seed-free model, a seed) are computed from its source's rows
    of that part alone: a run can take the parts whose source rows did not change from the last
    run's view and compute only the others (runner/partials.py). The view is
    `finish(rows(source(get)))`; `rows` of some parts' source rows gives exactly those parts' rows
    of the view, which `order` puts back in the view's order."""

    source: Callable[[Callable[[str], pd.DataFrame]], pd.DataFrame]  # the rows it is computed from
    part: Callable[[pd.DataFrame, Config], pd.Series]  # each source row's part
    rows: Callable[[pd.DataFrame, Config], pd.DataFrame]  # the view's rows of the parts given
    column: str  # the view's column holding each row's part
    order: Callable[[pd.DataFrame, Config], pd.DataFrame]  # parts' rows, concatenated, in the view's order
    finish: Callable[[pd.DataFrame, Config], pd.DataFrame] = lambda view, config: view  # over the whole view


PARTWISE: dict[str, Partwise] = {
    "seed_scores": Partwise(source=lambda get: with_baseline(get("scores")), part=lambda src, config: src["model"],
                            rows=seed_scores, column="experiment", order=order_seed_scores),
    "seed_curves": Partwise(source=lambda get: with_baseline(get("curves")), part=seed_free_models,
                            rows=seed_curves, column="experiment", order=lambda rows, config: order_seed_curves(rows),
                            finish=lambda view, config: with_steps(with_run_index(view, "experiment"))),
    # each seed predicted from its own single-task runs
    "predictions": Partwise(source=lambda get: get("scores"), part=lambda src, config: src["seed"],
                            rows=lambda src, config: build_predictions(src), column="seed",
                            order=lambda rows, config: order_predictions(rows)),
}


def whole(name: str, config: Config, get: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    """A partwise view computed from all of its source."""
    p = PARTWISE[name]
    return p.finish(p.rows(p.source(get), config), config)


# name -> fn(tidy frame, config, gaps, get(other view name))
VIEWS: dict[str, ViewFn] = {
    "metrics": lambda frame, config, gaps, get: frame,
    # every file under the data root with the reader that took it, its records and status (utils.loading)
    "files": lambda frame, config, gaps, get: files_view(frame),
    # the reported metric of every task at every step, which both scores and curves start from
    "primary": lambda frame, config, gaps, get: primary(frame, config),
    "scores": lambda frame, config, gaps, get: build_scores(frame, config, gaps, get("primary")),
    "curves": lambda frame, config, gaps, get: build_curves(frame, config, get("primary")),
    # the training diagnostics (gradient norm, learning rate, ...) at every step: drawn, never scored
    "diagnostics": lambda frame, config, gaps, get: build_diagnostics(frame, config),
    "predictions": lambda frame, config, gaps, get: whole("predictions", config, get),
    # seed-averaged scores: one row per seed-free experiment x condition x task (mean, std, n);
    # this and the views below hold only runs scored against a baseline (the others: run_*)
    "seed_scores": lambda frame, config, gaps, get: whole("seed_scores", config, get),
    # per-seed score rows with their model's mean, std and n alongside (dots + error bars), and the
    # run index (colour, marker) of the runs nobody described under training: (-1 for the others)
    "seed_points": lambda frame, config, gaps, get: with_run_index(
        seed_points(with_baseline(get("scores")), get("seed_scores")), "model"),
    # multi-task predictions averaged over seeds (each seed predicted from its own single-task runs)
    "seed_predictions": lambda frame, config, gaps, get: seed_predictions(get("predictions"), config),
    # checkpoint curves averaged over seeds: one row per seed-free experiment x condition x task x step
    "seed_curves": lambda frame, config, gaps, get: whole("seed_curves", config, get),
    # runs without a baseline: last value per run (seeds by name) and per-metric checkpoint curves
    "run_values": lambda frame, config, gaps, get: run_values(get("scores")),
    "run_curves": lambda frame, config, gaps, get: run_curves(get("curves")),
    # runs without a baseline: the overview panels (every metric at every checkpoint, one line per run;
    # the training diagnostics after them), the last value per model and task with stderr, subtasks
    # folded (all, headline, per benchmark)
    "run_overview": lambda frame, config, gaps, get: run_overview(frame, get("curves"), config, get("diagnostics")),
    "run_suite": lambda frame, config, gaps, get: run_suite(frame, get("scores"), get("curves"), config),
    "suite_headline": lambda frame, config, gaps, get: suite_headline(get("run_suite")),
    "suite_subtasks": lambda frame, config, gaps, get: suite_subtasks(get("run_suite")),
    "findings": lambda frame, config, gaps, get: with_run_findings(
        compute_findings(get("seed_scores"), get("predictions"), config), frame, config, get),
    # the scores of each seed on its own, for one heatmap per seed; empty unless plots.seed_heatmap
    # (with one colour limit per group, shared by its seeds' heatmaps)
    "seed_heatmap": lambda frame, config, gaps, get: with_heatmap_limit(
        get("scores") if config.seed_heatmap else get("scores").iloc[:0], config),
}


def with_steps(curves: pd.DataFrame) -> pd.DataFrame:
    """The checkpoint curves of the groups and conditions where some experiment has two steps or more:
    lm-eval results (all at step 0) would give a figure of empty panels. Baseline rows are kept."""
    if curves.empty or "group" not in curves.columns:
        return curves
    base = curves["group"] == "baseline"
    steps = curves[~base].groupby(["group", "condition", "experiment"])["step"].nunique()
    keep = set(steps[steps > 1].reset_index()[["group", "condition"]].itertuples(index=False, name=None))
    if len(keep) == len(steps.reset_index()[["group", "condition"]].drop_duplicates()):
        return curves  # every slice has a curve (the sweep): unchanged
    rows = [(g, c) in keep for g, c in columns(curves, "group", "condition")]
    return curves[base.to_numpy() | np.array(rows, dtype=bool)].reset_index(drop=True)


def with_run_findings(findings: pd.DataFrame, frame: pd.DataFrame, config: Config,
                      get: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    """The sweep's findings and, after them, those of the runs without a baseline (best run per metric,
    best vs last checkpoint, NaN, stopped early, sampled); the sweep's alone when there are none."""
    from analysis.run_findings import run_findings
    runs = run_findings(frame, get("curves"), get("run_overview"), get("suite_headline"), config)
    if runs.empty:
        return findings
    return pd.concat([findings, runs], ignore_index=True) if not findings.empty else runs


# What each view is computed from (every view it asks for), so a figure can point to the tables holding
# its numbers and a run can let go of a view no view still to come is computed from.
SOURCES: dict[str, tuple[str, ...]] = {
    "primary": ("metrics",), "curves": ("metrics", "primary"), "diagnostics": ("metrics",),
    "scores": ("metrics", "primary"), "predictions": ("scores",),
    "seed_scores": ("scores",), "seed_points": ("scores", "seed_scores"), "seed_predictions": ("predictions",),
    "findings": ("seed_scores", "predictions", "curves", "run_overview", "suite_headline"),
    "seed_curves": ("curves",), "seed_heatmap": ("scores",),
    "run_values": ("scores",), "run_curves": ("curves",), "run_overview": ("metrics", "curves", "diagnostics"),
    "run_suite": ("metrics", "scores", "curves"), "suite_headline": ("run_suite",), "suite_subtasks": ("run_suite",),
}


def lineage(name: str) -> set[str]:
    """The view itself and every view it is computed from, transitively."""
    return still_needed([name], computed=())


def still_needed(coming: Iterable[str], computed: Collection[str]) -> set[str]:
    """The views a run must still hold: those still to be asked for (`coming`) and, for each not
    `computed` yet, the views it is computed from, through views not computed yet either. A view
    computed already needs none of its sources again: `primary` is let go once the curves and
    scores are computed, not when the last view built on them is."""
    keep: set[str] = set()
    todo = list(coming)
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            if name not in computed:
                todo.extend(SOURCES.get(name, ()))
    return keep


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
