"""The tables: every record and every score (the LaTeX tables are in plots/latex_tables.py)."""
from __future__ import annotations

import pandas as pd

from plots.registry import OutputContext, table
from utils.csv_text import to_csv_text


@table("metrics_csv", needs="metrics", writes="tables/metrics.csv", title="All records", blocks_by="experiment",
       description="Every record loaded: experiment, condition, task, step, metric, statistic, value, source; and "
                   "wall_time (seconds since the epoch, UTC) when a file gives the time its numbers were logged.")
def metrics_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return to_csv_text(data)


# scores.csv names its columns for what they hold (the scores view keeps its internal names).
SCORES_CSV_COLUMNS = {
    "experiment": "run",  # the evaluated run, seed part included: pt1_seed2_ft2-9
    "model": "experiment",  # the experiment its seeds are averaged into, as the figures name it: pt1_ft2-9
    "kind": "direction",  # higher_is_better (accuracy, F1, ROUGE, BLEU, ...) or lower_is_better (errors, loss)
    "std": "eval_std",  # the evaluation file's own spread (over its examples), not a spread across seeds
    "baseline_experiment": "baseline_run",  # the baseline run this run is scored against (its own seed's)
}
DIRECTIONS = {"accuracy": "higher_is_better", "error": "lower_is_better"}


@table("scores_csv", needs="scores", writes="tables/scores.csv", title="Scores at the last checkpoint",
       blocks_by="experiment",
       description="One row per run x condition x task at its last checkpoint, with every score: run (with its "
                   "seed part), experiment (seed-free), direction (higher_is_better / lower_is_better), value and "
                   "eval_std (the evaluation file's own spread over its examples, not across seeds), the "
                   "baseline_run and its value, and the scores.")
def scores_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    out = data.assign(kind=data["kind"].map(DIRECTIONS).fillna(data["kind"])) if "kind" in data.columns else data
    return to_csv_text(out.rename(columns=SCORES_CSV_COLUMNS))


@table("files_csv", needs="files", writes="tables/files.csv", title="Every file under the data root",
       description="Every file under --data: path, the reader that took it, its records, and its status (read, "
                   "read but empty, not an evaluation file, unreadable, Git LFS pointer, skipped) with the reason.")
def files_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return to_csv_text(data)
