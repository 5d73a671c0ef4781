"""The paper's LaTeX tables: raw metrics per experiment (mean +- std over seeds) and per seed run."""
from __future__ import annotations

import pandas as pd

from analysis.latex import raw_metrics_by_seed_latex, raw_metrics_latex, runs_latex
from analysis.runs import with_baseline, without_baseline
from plots.registry import OutputContext, table


@table("raw_metrics_tex", needs="scores", writes="tables/raw_metrics.tex", title="Raw metrics per experiment (LaTeX)",
       description="The paper table: one row per experiment (short name), mean ± std over seeds of the metric "
                   "at the last checkpoint, tasks as columns and each condition a block of rows (fits 7 in at the "
                   "text's font size), decimals fitted to each column, five-digit columns in thousands, each "
                   "column's best in bold, booktabs, in a table environment with caption and label; latex: in "
                   "rules.yaml picks rows and seeds.")
def raw_metrics_tex(data: pd.DataFrame, ctx: OutputContext) -> str:
    return _with_runs(data, ctx, raw_metrics_latex, by_seed=False)


def _with_runs(data: pd.DataFrame, ctx: OutputContext, sweep, by_seed: bool) -> str:
    """The sweep's table of the scored experiments, then (or alone) the table of the runs without a
    baseline: runs x the headline metric of each task (analysis.latex.runs_latex)."""
    runs = data[without_baseline(data)] if not data.empty else data
    if runs.empty:
        return sweep(data, ctx.config)
    scored = with_baseline(data)
    table = runs_latex(runs, ctx.config, by_seed=by_seed)
    return table if scored.empty else sweep(scored, ctx.config) + "\n" + table


@table("raw_metrics_by_seed_tex", needs="scores", writes="tables/raw_metrics_by_seed.tex",
       title="Raw metrics per seed run (LaTeX)",
       description="As the paper table, one row per seed run (its own value, no averaging).")
def raw_metrics_by_seed_tex(data: pd.DataFrame, ctx: OutputContext) -> str:
    return _with_runs(data, ctx, raw_metrics_by_seed_latex, by_seed=True)
