"""The paper's raw-metrics tables in LaTeX: experiments x (task, condition), booktabs, in a `table`.

Two tables from one renderer:
- `raw_metrics_latex`: one row per seed-free experiment, mean +- std over its seeds (the numbers
  of the `seed_scores` view, i.e. `analysis.seeds.seed_scores`), short row names (`ft2-9`).
- `raw_metrics_by_seed_latex`: one row per run (`ft2-9 (seed 2)` for `pt1_seed2_ft2-9`), its own value.

Decimals are chosen per column (task x condition) from the numbers in it (`column_decimals`), so a
~1% difference between experiments stays visible: 1918 and 1976 print as 1918 and 1976, never
as 1900 and 2000; a column of five-digit values is printed in thousands (x10^3, said above it), so
123318 +- 112906 reads 123 +- 113, not with digits the seeds do not support (`column_format`). A
spread that rounds to zero prints as "< 0.05" (never "+- 0.0"); each column's best value is bold.
The tasks are the columns and the conditions blocks of rows, so the table fits a page's width at
the text's own font size (no \resizebox). `latex:` in rules.yaml limits both tables to chosen
experiments and seeds. summary.md prints its numbers with the same `column_format`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd

from analysis.figure_data import conditions_in, tasks_in
from analysis.seeds import seed_scores
from utils.config import Config
from utils.errors import ConfigError

MAX_DECIMALS = 6
PM = r"${\pm}$"  # ± without the spaces of a binary operator: a column of "0.864±0.002" fits 7 in at 10 pt
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "$": r"\$",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_ESCAPES = str.maketrans(_LATEX_SPECIAL)


def column_decimals(means: pd.Series, stds: pd.Series | None = None) -> int:
    """Decimals for one column: the last printed digit is at or below its smallest resolution.

    The resolution is the smallest of 1% of the column's median |value| (a 1% effect stays
    visible), the median seed std (the noise is printed to its first digit) and the std of the
    values across rows (differences between experiments stay visible). 0 to MAX_DECIMALS.
    """
    values = pd.to_numeric(means, errors="coerce").astype("float64")
    values = values[np.isfinite(values.to_numpy())]
    candidates = []
    nonzero = values[values != 0].abs()
    if len(nonzero):
        candidates.append(0.01 * float(nonzero.median()))
    if stds is not None:
        s = pd.to_numeric(stds, errors="coerce").astype("float64")
        s = s[np.isfinite(s.to_numpy()) & (s > 0)]
        if len(s):
            candidates.append(float(s.median()))
    if len(values) > 1 and float(values.std(ddof=0)) > 0:
        candidates.append(float(values.std(ddof=0)))
    if not candidates:
        return 0
    return int(min(max(-math.floor(math.log10(min(candidates))), 0), MAX_DECIMALS))


@dataclass(frozen=True)
class ColumnFormat:
    """How a table column prints its numbers: `decimals` places, in units of 10**`exponent`."""

    decimals: int
    exponent: int = 0

    def text(self, value: float) -> str:
        """The value as the column prints it (scaled, without the unit): `--` for no number."""
        return number(value / 10.0 ** self.exponent if value is not None and math.isfinite(value) else value,
                      self.decimals)

    def spread(self, std: float) -> str:
        """A ± spread as the column prints it; one that rounds to zero is "< 0.05" (at 1 decimal), never 0.0."""
        text = self.text(std)
        if text != "--" and std == 0:
            return "0"  # the seeds agree exactly
        if text != "--" and std > 0 and float(text) == 0:
            return "< " + number(0.5 * 10.0 ** -self.decimals, self.decimals + 1)
        return text

    def plain(self, value: float) -> str:
        """The value with its scale written out, for prose: "1587", "92.8×10³"."""
        text = self.text(value)
        return text if not self.exponent or text == "--" else f"{text}×10{_superscript(self.exponent)}"


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _superscript(n: int) -> str:
    return str(n).translate(_SUPERSCRIPT)


def column_format(means: pd.Series, stds: pd.Series | None = None) -> ColumnFormat:
    """The column's format: values of 10^4 and more (the median |value|) in thousands (or millions, ...),
    then `column_decimals` of the scaled numbers."""
    values = pd.to_numeric(means, errors="coerce").astype("float64")
    values = values[np.isfinite(values.to_numpy()) & (values != 0)].abs()
    exponent = 0
    if len(values) and float(values.median()) >= 1e4:
        exponent = 3 * int(math.floor(math.log10(float(values.median())) / 3))
    scale = 10.0 ** exponent
    scaled_stds = None if stds is None else pd.to_numeric(stds, errors="coerce").astype("float64") / scale
    return ColumnFormat(column_decimals(pd.to_numeric(means, errors="coerce").astype("float64") / scale,
                                        scaled_stds), exponent)


def column_formats(table: pd.DataFrame) -> dict[tuple[str, str], ColumnFormat]:
    """(task, condition) -> the format raw_metrics.tex prints that column in, from the seed_scores rows
    (every experiment and baseline: `value_mean`, `value_std`)."""
    return {(task, cond): column_format(part["value_mean"], part["value_std"])
            for (task, cond), part in table.groupby(["task", "condition"], sort=False)}


def sig(value: float, digits: int = 2) -> str:
    """Round to `digits` significant figures without scientific notation for everyday ranges
    (the findings' wording uses it; the tables use `column_decimals`)."""
    if value is None or not math.isfinite(value):
        return "--"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - exponent, 0)
    rounded = round(value, digits - 1 - exponent)
    if abs(rounded) >= 1e6:
        return f"{rounded:.{digits - 1}e}"
    return f"{rounded:.{decimals}f}"


def number(value: float, decimals: int) -> str:
    """`value` with `decimals` decimals; `--` for no number; never `-0.00`."""
    if value is None or not math.isfinite(value):
        return "--"
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def short_name(name: str, config: Config) -> str:
    """The row name without the baseline prefix: `ft2-9` for `pt1_ft2-9`; a baseline keeps its name."""
    info = config.parse_experiment(name)
    if info is None or info.is_baseline or not name.startswith(info.baseline):
        return name
    return name[len(info.baseline):].lstrip("_-. ") or name


def select(scores: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The per-seed score rows `latex:` in rules.yaml asks for (all when it names nothing).

    `latex.experiments` entries match the seed-free name, the short name or the run's name (globs
    allowed); the baselines of the chosen experiments are kept, as the reference row. An entry
    that matches nothing is a ConfigError naming the file and key, so a typo never silently
    drops rows."""
    rules = config.latex
    out = scores
    if rules.seeds:
        seeds = out["seed"].astype(str)
        for i, seed in enumerate(rules.seeds):
            if not (seeds == seed).any():
                raise ConfigError(f"{config.path}: latex.seeds[{i}]: no run has seed {seed!r} "
                                  f"(seeds present: {', '.join(sorted(set(seeds)))})")
        out = out[seeds.isin(rules.seeds)]
    if rules.experiments:
        models = pd.unique(out["model"]).tolist()
        names = {m: {m, short_name(m, config)} for m in models}
        for exp, model in zip(out["experiment"], out["model"]):
            names[model].add(exp)
        chosen: set[str] = set()
        for i, pattern in enumerate(rules.experiments):
            hits = {m for m, ns in names.items() if any(fnmatchcase(n, pattern) for n in ns)}
            if not hits:
                raise ConfigError(f"{config.path}: latex.experiments[{i}]: {pattern!r} matches no experiment "
                                  f"(e.g. {', '.join(short_name(m, config) for m in models[:4])})")
            chosen |= hits
        base = out.loc[out["model"].isin(chosen), "baseline_experiment"]
        keep = out["model"].isin(chosen) | out["experiment"].isin(set(base))
        out = out[keep]
    return out


def raw_metrics_latex(scores: pd.DataFrame, config: Config) -> str:
    """One row per seed-free experiment: mean +- std over seeds of the metric at the last checkpoint."""
    chosen = select(scores, config)
    table = seed_scores(chosen, config)
    rows = pd.unique(table["experiment"]).tolist()
    n_row = table.groupby("experiment")["n_seeds"].max().to_dict()
    cells = {(r.experiment, r.task, r.condition): (r.value_mean, r.value_std, r.value_n)
             for r in table.itertuples()}
    groups = table.drop_duplicates("experiment").set_index("experiment")["group"].to_dict()
    ns = sorted({int(n) for n in n_row.values()})
    seeds = (f"{ns[0]} seed{'s' if ns[0] != 1 else ''}" if len(ns) == 1
             else f"{ns[0]}--{ns[-1]} seeds (n per row)" if ns else "no runs")
    spread = r"mean $\pm$ std over " + seeds if ns and ns[-1] > 1 else "one seed" if ns else "no runs"
    caption = (f"Raw metrics at the last checkpoint ({spread})." if config.latex.caption == ""
               else config.latex.caption)
    return _render(chosen, config, rows, cells, groups, {r: short_name(r, config) for r in rows},
                   n_row if len(ns) > 1 else None, caption, config.latex.label, source="tables/scores_by_seed.csv")


def raw_metrics_by_seed_latex(scores: pd.DataFrame, config: Config) -> str:
    """One row per run (every seed its own row): the metric at the last checkpoint."""
    chosen = select(scores, config)
    rows = pd.unique(chosen["experiment"]).tolist()  # in their order, worked out on the array
    # columns as lists, not itertuples: a sweep of 100,000 files has 100,000 cells (1.3 -> 0.1 s)
    values = chosen["value"].to_numpy(dtype="float64", na_value=np.nan).tolist()
    cells = {(e, t, c): (v, float("nan"), 0 if v != v else 1) for e, t, c, v in zip(  # v != v: NaN
        *(chosen[k].tolist() for k in ("experiment", "task", "condition")), values)}
    firsts = chosen.drop_duplicates("experiment")
    groups = dict(zip(firsts["experiment"].tolist(), firsts["group"].tolist()))
    caption = ("Raw metrics at the last checkpoint, one row per seed." if config.latex.caption == ""
               else config.latex.caption + " (one row per seed)")
    seed_of = dict(zip(firsts["experiment"].tolist(), zip(firsts["model"].tolist(), firsts["seed"].tolist())))
    names = {r: f"{short_name(seed_of[r][0], config)} (seed {seed_of[r][1]})" for r in rows}
    return _render(chosen, config, rows, cells, groups, names, None, caption,
                   config.latex.label + "_by_seed", source="tables/scores.csv")


def _render(scores: pd.DataFrame, config: Config, rows: list[str], cells: dict, groups: dict[str, str],
            names: dict[str, str], n_row: dict[str, int] | None, caption: str, label: str, source: str) -> str:
    have_conds = set(conditions_in(scores, config))
    conds = [c for c in config.conditions if c.name in have_conds]
    tasks = tasks_in(scores, config)
    columns = [(t, c.name) for t in tasks for c in conds]
    nan = (float("nan"), float("nan"), 0)
    # each column's (mean, std, n) of every row, looked up once (a sweep's by-seed table: 100,000 cells)
    table = {col: [cells.get((r, *col), nan) for r in rows] for col in columns}
    formats = {col: column_format(pd.Series([c[0] for c in table[col]], dtype="float64"),
                                  pd.Series([c[1] for c in table[col]], dtype="float64"))
               for col in columns}
    best = {}
    for col in columns:
        means = [(c[0], r) for c, r in zip(table[col], rows)]
        means = [(m, r) for m, r in means if m is not None and math.isfinite(m)]
        if len(means) > 1:
            pick = max if config.tasks[col[0]].higher_is_better else min
            best[col] = pick(means)[0]
    row_n = [max([table[col][i][2] for col in columns] or [0]) for i in range(len(rows))]
    lead = 1 + (n_row is not None)
    width = lead + len(tasks)
    fewer = False
    body = []
    for ci, cond in enumerate(conds):
        scaled = [formats[(t, cond.name)].exponent for t in tasks]
        if len(conds) > 1 or any(scaled):
            title = rf"\textit{{{_escape(cond.label)}}}" if len(conds) > 1 else ""
            units = [rf"($\times 10^{{{e}}}$)" if e else "" for e in scaled]
            if ci:
                body.append(r"\midrule")
            body.append(" & ".join([rf"\multicolumn{{{lead}}}{{l}}{{{title}}}"] + units) + r" \\")
            body.append(r"\addlinespace[2pt]" if len(conds) > 1 else r"\midrule")
        previous = None
        shown = [(table[(t, cond.name)], formats[(t, cond.name)], best.get((t, cond.name))) for t in tasks]
        for i, r in enumerate(rows):
            group = groups.get(r, "")
            if previous is not None and group != previous:
                body.append(r"\addlinespace[3pt]")
            previous = group
            out = []
            for column, fmt, top in shown:
                mean, std, n = column[i]
                text = fmt.text(mean)
                if top is not None and mean == top:
                    text = rf"\textbf{{{text}}}"
                if n > 1 and math.isfinite(std):
                    spread = fmt.spread(std)
                    text += PM + (spread.replace("< ", "$<$") if spread.startswith("<") else spread)
                if 0 < n < row_n[i]:
                    text += r"$^\dagger$"
                    fewer = True
                out.append(text)
            head = _escape(names[r]) + (f" & {n_row[r]}" if n_row is not None else "")
            body.append(head + " & " + " & ".join(out) + r" \\")
    notes = []
    notes.append(r"$\uparrow$ higher is better, $\downarrow$ lower is better; bold: the best in its column")
    if any(f.exponent for f in formats.values()):
        notes.append(r"($\times 10^{3}$): the column in thousands")
    if fewer:
        notes.append(r"$^\dagger$ fewer seeds than the row's other cells (a missing evaluation)")
    header = " & ".join(["Experiment"] + (["n"] if n_row is not None else []) + [
        f"{_escape(config.tasks[t].label)}" for t in tasks]) + r" \\"
    if tasks:  # which way is better, under each task's name (one line of names stays narrow)
        header += "\n" + " & ".join([""] * lead + [_arrow(config, t) for t in tasks]) + r" \\"
    lines = [
        f"% Generated by run_all.py from {source}; do not edit by hand.",
        r"% Needs \usepackage{booktabs}; at the text's font size, 7 tasks fit 7 in: in a two-column paper use table*.",
        r"\begin{table}[t]",
        r"\centering",
        r"\setlength{\tabcolsep}{2.5pt}",
        rf"\caption{{{caption} {'; '.join(notes)}.}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{l{'r' * (width - 1)}}}",
        r"\toprule",
        header,
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
        "",
    ]
    return "\n".join(lines)


# --- runs nobody described (no baseline) --------------------------------------------------------------

# A Trainer run's metrics measure one (unnamed) task: its headline is the first of these it reports.
# Names not listed here (piqa, mmlu, ...) are tasks of an evaluation suite, each its own column.
HEADLINE_METRICS = ("accuracy", "acc", "f1", "exact_match", "rouge1", "rougeL", "bleu", "sacrebleu", "wer", "cer",
                    "matthews_correlation", "mcc", "precision", "recall", "auc", "roc_auc", "loss", "perplexity")
MAX_RUN_COLUMNS = 8  # per run group: a page's width of "0.943 $\pm$ 0.012" cells


def _is_metric(name: str) -> bool:
    return name in HEADLINE_METRICS or name.startswith("rouge")


def run_columns(cells: pd.DataFrame, config: Config) -> dict[str, list[str]]:
    """Run group -> the columns of its table: `latex.columns` when given (names or globs; one that
    matches nothing is a ConfigError), else one headline metric per run's task (a Trainer run's
    first of HEADLINE_METRICS; every task of an evaluation suite, those most runs report first),
    at most MAX_RUN_COLUMNS a group."""
    out: dict[str, list[str]] = {}
    wanted = config.latex.columns
    if wanted:
        names = sorted(set(cells["name"]))
        for i, pattern in enumerate(wanted):
            if not any(fnmatchcase(n, pattern) for n in names):
                raise ConfigError(f"{config.path}: latex.columns[{i}]: {pattern!r} matches no metric or task "
                                  f"(e.g. {', '.join(names[:6])})")
    for group, part in cells.groupby("group", sort=True):
        if wanted:
            cols = [n for n in dict.fromkeys(part["name"]) if any(fnmatchcase(n, p) for p in wanted)]
            out[group] = sorted(cols, key=lambda n: min(i for i, p in enumerate(wanted) if fnmatchcase(n, p)))
            continue
        chosen: dict[str, int] = {}
        for model, rows in part.groupby("model", sort=True):
            names = set(rows["name"])
            metrics = [m for m in HEADLINE_METRICS if m in names] + sorted(n for n in names if _is_metric(n)
                                                                          and n not in HEADLINE_METRICS)
            picks = metrics[:1] + sorted(n for n in names if not _is_metric(n))
            for n in picks:
                chosen[n] = chosen.get(n, 0) + 1
        ranked = sorted(chosen, key=lambda n: (not _is_metric(n), -chosen[n], n))
        out[group] = ranked[:MAX_RUN_COLUMNS]
    return out


def runs_latex(scores: pd.DataFrame, config: Config, by_seed: bool = False) -> str:
    """The paper table of runs without a baseline: a block per run group, rows its runs (seed-free,
    mean ± std over seeds; `by_seed`: every run its own row), columns the headline metric of each
    task (`run_columns`); subtasks folded into their benchmark, known aliases merged."""
    from analysis.overview import canonical, fold
    chosen = select(scores, config)
    rows = chosen[chosen["condition"] != "train"].assign(value=lambda d: d["value"].astype("float64"))
    key = "experiment" if by_seed else "model"
    per = rows.groupby(["group", key, "condition", "task"], sort=True).agg(
        value=("value", "mean"), value_std=("value", "std"), n=("value", "count"),
        kind=("kind", "first")).reset_index().rename(columns={key: "row"})
    per = per.assign(model=per["row"], stderr=float("nan"), step=0)
    cells = fold(per, ["group", "model", "condition"])
    cells = cells[cells["headline"]].assign(row=lambda d: d["model"])
    columns = run_columns(cells, config)
    conds = list(dict.fromkeys(cells["condition"]))
    ns = sorted({int(n) for n in cells["n"].dropna()}) or [1]
    spread = (r"mean $\pm$ std over seeds" if ns[-1] > 1 and not by_seed else "one row per run")
    caption = config.latex.caption or (
        f"Runs without a baseline: the headline metric of each task at the run's last checkpoint ({spread}); "
        r"* the mean of a benchmark's subtasks. $\uparrow$ higher is better, $\downarrow$ lower is better.")
    lines = ["% Generated by run_all.py from tables/scores.csv (runs without a baseline); do not edit by hand.",
             r"% Needs \usepackage{booktabs} and \usepackage{graphicx}; a block wider than the text is scaled "
             f"down to it; at most {MAX_RUN_COLUMNS} columns a run group (latex.columns in rules.yaml picks them).",
             r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}",
             rf"\label{{{config.latex.label + ('_by_seed' if by_seed else '')}}}", r"\small"]
    for group, cols in columns.items():
        part = cells[cells["group"] == group]
        kinds = part.drop_duplicates("name").set_index("name")["kind"].to_dict()
        table_cols = [(c, k) for c in cols for k in conds if ((part["name"] == c) & (part["condition"] == k)).any()]
        if not table_cols:
            continue
        at = {(r.row, r.name, r.condition): r for r in part.itertuples()}
        runs = [r for r in dict.fromkeys(part["row"]) if any((r, c, k) in at for c, k in table_cols)]
        decimals = {ck: column_decimals(pd.Series([at[(r, *ck)].value for r in runs if (r, *ck) in at], dtype="float64"))
                    for ck in table_cols}
        several = {c for c, _ in table_cols if sum(c2 == c for c2, _ in table_cols) > 1}  # e.g. eval and test
        head = [f"{_escape(c)}{' (' + _escape(k) + ')' if c in several else ''} "
                + (r"($\downarrow$)" if kinds.get(c) == "error" else r"($\uparrow$)") for c, k in table_cols]
        lines += [r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
                  rf"\begin{{tabular}}{{l{'r' * len(table_cols)}}}", r"\toprule",
                  _escape(str(group)) + " & " + " & ".join(head) + r" \\", r"\midrule"]
        for r in runs:
            out = []
            for ck in table_cols:
                cell = at.get((r, *ck))
                if cell is None:
                    out.append("--")
                    continue
                text = number(cell.value, decimals[ck]) + ("*" if bool(cell.aggregated) else "")
                if cell.n > 1 and math.isfinite(cell.value_std) and not by_seed:
                    text += r" $\pm$ " + number(cell.value_std, decimals[ck])
                out.append(text)
            lines.append(_escape(canonical(str(r))) + " & " + " & ".join(out) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}}"]
        left = sorted(set(part["name"]) - set(cols)) if not config.latex.columns else []
        if left:  # never silently: what the page had no room for
            lines.append(rf"\par{{\footnotesize {_escape(str(group))}, not shown: " + _escape(", ".join(left))
                         + r" (latex.columns in rules.yaml picks the columns)}")
        lines.append(r"\par\medskip")
    lines += [r"\end{table}", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.translate(_LATEX_ESCAPES)


def _arrow(config: Config, task: str) -> str:
    return r"$\uparrow$" if config.tasks[task].higher_is_better else r"$\downarrow$"
