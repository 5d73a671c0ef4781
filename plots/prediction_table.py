"""tables/predictions.csv: every multi-task prediction, predicted vs actual, per seed and cell."""
from __future__ import annotations

import pandas as pd

from plots.registry import OutputContext, table
from utils.csv_text import to_csv_text


@table("predictions_csv", needs="predictions", writes="tables/predictions.csv", title="Predicted vs actual",
       blocks_by="experiment",
       description="Per multi-task experiment (each seed), condition, task and score: actual, predicted (max over "
                   "its trained tasks of the same seed's single-task score), predicted_from (that single-task "
                   "experiment) and residual = actual - predicted.")
def predictions_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return to_csv_text(data)
