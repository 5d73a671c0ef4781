"""The tables: every record and every score (the LaTeX tables are in plots/latex_tables.py)."""
from __future__ import annotations

import pandas as pd

from plots.registry import OutputContext, table


@table("metrics_csv", needs="metrics", writes="tables/metrics.csv", title="All records", blocks_by="experiment",
       description="Every record loaded: experiment, condition, task, step, metric, statistic, value, source.")
def metrics_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return data.to_csv(index=False)


@table("scores_csv", needs="scores", writes="tables/scores.csv", title="Scores at the last checkpoint",
       description="One row per experiment x condition x task at its last checkpoint, with every score.")
def scores_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return data.to_csv(index=False)



@table("files_csv", needs="files", writes="tables/files.csv", title="Every file under the data root",
       description="Every file under --data: path, the reader that took it, its records, and its status (read, "
                   "read but empty, not an evaluation file, unreadable, Git LFS pointer, skipped) with the reason.")
def files_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return data.to_csv(index=False)
