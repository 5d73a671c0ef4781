"""The tables: every record, every score, and the paper's raw-metrics table."""
from __future__ import annotations

import pandas as pd

from analysis.latex import raw_metrics_latex
from plots.registry import OutputContext, table


@table("metrics_csv", needs="metrics", writes="tables/metrics.csv", title="All records", blocks_by="experiment",
       description="Every record loaded: experiment, condition, task, step, metric, statistic, value, source.")
def metrics_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return data.to_csv(index=False)


@table("scores_csv", needs="scores", writes="tables/scores.csv", title="Scores at the last checkpoint",
       description="One row per experiment x condition x task at its last checkpoint, with every score.")
def scores_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return data.to_csv(index=False)


@table("raw_metrics_tex", needs="scores", writes="tables/raw_metrics.tex", title="Raw metrics (LaTeX)",
       description="Models x tasks with ID/OOD columns, 2 significant figures, booktabs.")
def raw_metrics_tex(data: pd.DataFrame, ctx: OutputContext) -> str:
    return raw_metrics_latex(data, ctx.config)
