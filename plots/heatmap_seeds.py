"""One normalized-score heatmap per seed (off by default: `plots.seed_heatmap: true` in rules.yaml).

The heatmap module shows the mean over seeds; this one shows what each seed's runs scored against
that seed's own baseline, to see whether one seed drives the mean. Drawn with plots.heatmap's
`draw_matrix`, so both read the same way.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.figure_data import clip_phrase, experiment_order, matrix, members, score_for
from plots.heatmap import draw_matrix, figure_size, legend_handles
from plots.registry import OutputContext, figure
from plots.style import apply_style, diverging_norm, experiment_labels
from utils.config import UNSUFFIXED_SEED


@figure("heatmap_by_seed", needs="seed_heatmap", per=("group", "seed"), writes="heatmap_by_seed/{group}_seed{seed}",
        title="Normalized score heatmap, one per seed",
        description="Off unless plots.seed_heatmap is true in rules.yaml. Per group and seed: experiments x "
                    "evaluation tasks of the normalized score at the last checkpoint against that seed's own "
                    "baseline, one panel per condition; seed 0 = the runs without a seed suffix; outlined: "
                    "trained tasks.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    rows = members(data)
    conditions = [c.name for c in ctx.config.conditions if c.name in set(rows["condition"])]
    order = experiment_order(rows["experiment"], ctx.config)
    mats = [(cond, score_for(ctx.config, cond)) for cond in conditions]
    mats = [(cond, meaning, matrix(rows[rows["condition"] == cond], meaning.column, ctx.config, order))
            for cond, meaning in mats]
    n_cols = max(len(m.values.columns) for _, _, m in mats)
    fig, axes = plt.subplots(1, len(mats), figsize=figure_size(len(order), n_cols, len(mats)), squeeze=False,
                             layout="constrained")
    norm = diverging_norm(1.0)
    labels = experiment_labels(order, ctx.config)
    for i, (ax, (cond, meaning, m)) in enumerate(zip(axes.flat, mats)):
        image = draw_matrix(ax, m, norm, labels if i == 0 else None, [ctx.task(t).label for t in m.values.columns])
        ax.set_title(f"{ctx.config.condition_label(cond)}: {meaning.name}", pad=10)
        bar = fig.colorbar(image, ax=ax, location="bottom", extend="both", shrink=0.9, aspect=30, pad=0.01)
        bar.set_label(f"{meaning.scale}\n(colours clipped to [-1, 1]; numbers as scored)")
        bar.set_ticks([-1, -0.5, 0, 0.5, 1])
    handles, names = legend_handles()
    fig.legend(handles, names, loc="outside lower center", ncols=2, frameon=False)
    seed = int(ctx.keys["seed"])
    which = "runs without a seed suffix" if seed == UNSUFFIXED_SEED else f"seed {seed}"
    baselines = ", ".join(sorted(set(rows["baseline_experiment"])))
    clip = clip_phrase(ctx.config, per_seed=True)
    fig.suptitle(f"{ctx.group_label}: normalized score per evaluation task, {which} only (seed {seed}), "
                 f"last checkpoint\nscored against {baselines}" + (f"; {clip}" if clip else ""))
    return fig
