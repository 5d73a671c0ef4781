"""One normalized-score heatmap per seed (off by default: `plots.seed_heatmap: true` in rules.yaml).

The heatmap module shows the mean over seeds; this one shows what each seed's runs scored against
that seed's own baseline, to see whether one seed drives the mean. Drawn with plots.heatmap's
`score_heatmap`, so both read the same way.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from analysis.figure_data import clip_phrase, members, part_rows
from plots.heatmap import heatmap_parts, panels_phrase, score_heatmap
from plots.registry import OutputContext, figure
from utils.config import UNSUFFIXED_SEED

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure("heatmap_by_seed", needs="seed_heatmap", per=("group", "seed"), writes="heatmap_by_seed/{group}_seed{seed}",
        parts=heatmap_parts, title="Normalized score heatmap, one per seed",
        description="Off unless plots.seed_heatmap is true in rules.yaml. Per group and seed: experiments x "
                    "evaluation tasks of the normalized score at the last checkpoint against that seed's own "
                    "baseline, one panel per condition; seed 0 = the runs without a seed suffix; outlined: "
                    "trained tasks; one colour scale for every seed's figure of a group. Split into parts "
                    "when taller than a page.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    rows = members(data)
    seed = int(ctx.keys["seed"])
    which = "seed 0 (runs without a seed suffix)" if seed == UNSUFFIXED_SEED else f"seed {seed}"
    baselines = ", ".join(sorted(set(rows["baseline_experiment"])))
    clip = clip_phrase(ctx.config, per_seed=True)
    panels = panels_phrase(rows["condition"].nunique())  # " for both panels": what else shares the colours
    limit = float(rows["colour_limit"].iloc[0]) if "colour_limit" in rows.columns and len(rows) else None
    title = (f"{ctx.group_label}: each condition's score per task, {which} only, last checkpoint, scored against "
             f"{baselines}" + (f"; {clip}" if clip else ""))
    return score_heatmap(part_rows(rows, ctx.config, ctx.keys), ctx, title, limit=limit,  # one part's rows
                         shared=f"{panels} and every seed's figure of this group" if panels
                         else " for every seed's figure of this group")
