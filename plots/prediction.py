"""Multi-task prediction: actual score vs the best single-task score, and where they differ."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.figure_data import clip_phrase, experiment_order, matrix, score_for
from plots.heatmap import draw_matrix, figure_size, legend_handles
from plots.registry import OutputContext, figure
from plots.style import apply_style, diverging_norm, experiment_labels, note_figure


@figure("prediction", needs="seed_predictions", per=("group", "condition"), writes="prediction/{group}_{condition}",
        title="Multi-task score vs single-task prediction",
        description="For experiments trained on several tasks: actual normalized score, the prediction "
                    "(max over its trained tasks of the matching single-task experiment's score) and "
                    "actual - predicted, per evaluation task; outlined: trained tasks.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    meaning = score_for(ctx.config, ctx.keys["condition"])
    rows = data[data["score"] == meaning.column]
    n_seeds = int(rows["n_seeds"].max()) if len(rows) else 1
    seeds = f" (mean over {n_seeds} seeds, each predicted from its own seed)" if n_seeds > 1 else ""
    title = (f"{ctx.group_label}: multi-task {meaning.name} vs prediction from single-task runs, "
             f"{ctx.condition_label}{seeds}") + (f"\n{clip_phrase(ctx.config)}" if ctx.config.clip else "")
    if rows.empty:
        return note_figure(f"No {meaning.name} predictions for this group and condition.", title)
    order = experiment_order(rows["experiment"], ctx.config)
    panels = [("actual", f"actual {meaning.name}"),
              ("predicted", "predicted: best single-task run\n(max over the trained tasks)"),
              ("residual", "actual − predicted\n(> 0: better than predicted)")]
    mats = [matrix(rows, col, ctx.config, order) for col, _ in panels]
    n_cols = len(mats[0].values.columns)
    fig, axes = plt.subplots(1, 3, figsize=figure_size(len(order), n_cols, 3), squeeze=False,
                             layout="constrained")
    norms = [diverging_norm(1.0), diverging_norm(1.0), diverging_norm(0.5)]
    cols = [ctx.task(t).label for t in mats[0].values.columns]
    images = []
    for i, (ax, m, norm, (_, panel_title)) in enumerate(zip(axes.flat, mats, norms, panels)):
        labels = experiment_labels(order, ctx.config) if i == 0 else None
        images.append(draw_matrix(ax, m, norm, labels, cols))
        ax.set_title(panel_title, pad=10)
    score_bar = fig.colorbar(images[0], ax=list(axes.flat[:2]), location="bottom", extend="both", shrink=0.7,
                             aspect=40, pad=0.01)
    score_bar.set_label(f"{meaning.name}: {meaning.scale}\n(colours clipped to [-1, 1]; numbers unclipped)")
    score_bar.set_ticks([-1, -0.5, 0, 0.5, 1])
    diff_bar = fig.colorbar(images[2], ax=axes.flat[2], location="bottom", extend="both", shrink=0.9,
                            aspect=20, pad=0.01)
    diff_bar.set_label("actual − predicted (score units; colours clipped to [-0.5, 0.5])")
    diff_bar.set_ticks([-0.5, -0.25, 0, 0.25, 0.5])
    handles, names = legend_handles()
    fig.legend(handles, names, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title)
    return fig
