"""tables/scores_by_seed.csv: value and every score averaged over seeds (mean, std, n)."""
from __future__ import annotations

import pandas as pd

from plots.registry import OutputContext, table
from utils.csv_text import to_csv_text


@table("scores_by_seed", needs="seed_scores", writes="tables/scores_by_seed.csv", title="Scores by seed",
       description="Per seed-free experiment x condition x task: mean, std and n over seeds of the value "
                   "and every score, each seed normalized against its own baseline; std is empty for one seed.")
def scores_by_seed_csv(data: pd.DataFrame, ctx: OutputContext) -> str:
    return to_csv_text(data)
