"""The paper's LaTeX tables: rows, means and stds against an independent computation from the files."""
from __future__ import annotations

import json
import math
import re
import shutil
import statistics
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import run_all
from analysis.latex import column_decimals, number, short_name
from testing_helpers import REPO, write_eval
from utils.config import load_config
from utils.errors import ConfigError
from utils.synthetic import write_tree

TASKS = ("distance", "trianglearea", "crossing")
OUTPUTS = ("raw_metrics_tex", "raw_metrics_by_seed_tex")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """pt1 with 3 seeds, 2 single-task and 1 two-task experiment, both conditions."""
    root = tmp_path_factory.mktemp("latex") / "exp"
    write_tree(root, seeds=3, ft1=2, ft2=1, checkpoints=3, tasks=TASKS)
    return root


def rules(tmp_path: Path, latex: dict | None = None) -> Path:
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    if latex is not None:
        raw["latex"] = latex
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def render(tree: Path, tmp_path: Path, latex: dict | None = None) -> tuple[int, Path]:
    out = tmp_path / "out"
    code = run_all.main(["--data", str(tree), "--out", str(out), "--config", str(rules(tmp_path, latex)),
                         "--only", *OUTPUTS, "--jobs", "1", "-q"])
    return code, out


def last_values(root: Path) -> dict[tuple[str, str, str], float]:
    """(run, condition, task) -> value at the last checkpoint, read straight from the JSON files."""
    out = {}
    for path in root.glob("*/evals/*/eval_data/evaluation_results.json"):
        run, folder = path.parts[-5], path.parts[-3]
        condition, task = ("atlantis", folder[len("atlantis_"):]) if folder.startswith("atlantis_") \
            else ("standard", folder)
        data = json.loads(path.read_text())
        last = max(data, key=lambda k: int(k.rsplit("-", 1)[1]))
        out[run, condition, task] = data[last][f"eval_{task}_metric_mean"]
    return out


def by_experiment(values: dict, seeds: set[int] | None = None) -> dict[tuple[str, str, str], list[float]]:
    """Seeds pooled under the short name: pt1_seed2_ft1-1 -> ft1-1, pt1_seed3 -> pt1."""
    pooled: dict[tuple[str, str, str], list[float]] = {}
    for (run, condition, task), v in values.items():
        m = re.fullmatch(r"pt1(?:_seed(\d+))?(?:_(ft\d+-\d+))?", run)
        if seeds is not None and int(m.group(1) or 0) not in seeds:
            continue
        pooled.setdefault((m.group(2) or "pt1", condition, task), []).append(v)
    return pooled


def parse(tex: str) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """The table's columns as (task label, ID/OOD) and its rows as name -> cells (the n column, when there
    is one, then each task's cell per condition: the tasks are columns, each condition a block of rows
    under its italic label). A cell of a column in thousands (x10^3 above it) has its numbers multiplied
    back (`cell` reads "<value> x1000")."""
    lines = tex.splitlines()
    top = lines.index(r"\toprule")
    head = [c.strip() for c in lines[top + 1].strip().removesuffix(r"\\").split("&")]
    has_n = len(head) > 1 and head[1] == "n"
    labels = head[1 + has_n:]
    short = {"Standard": "ID", "Atlantis (OOD)": "OOD"}
    blocks: dict[str, dict[str, list[str]]] = {}
    cond, units, n_of = "ID", [""] * len(labels), {}
    for line in lines[lines.index(r"\midrule", top) + 1:lines.index(r"\bottomrule")]:
        if r"\textit{" in line or line.startswith(r"\multicolumn"):
            found = re.search(r"\\textit\{(.+?)\}", line)
            cond = short.get(found.group(1), found.group(1)) if found else "ID"
            units = [" x1000" if "10^{3}" in c else "" for c in line.strip()[:-2].split("&")[1:]]
            continue
        if not line.endswith(r"\\"):
            continue  # \midrule, \addlinespace
        cells = [c.strip() for c in line.removesuffix(r"\\").split("&")]
        if has_n:
            n_of[cells[0]] = cells[1]
        blocks.setdefault(cond, {})[cells[0]] = [c + u for c, u in zip(cells[1 + has_n:], units)]
    conds = list(blocks) or ["ID"]
    columns = [(label, c) for label in labels for c in conds]
    names = list(dict.fromkeys(n for b in blocks.values() for n in b))
    rows = {name: ([n_of[name]] if has_n else []) +
            [blocks[c].get(name, ["--"] * len(labels))[i] for i in range(len(labels)) for c in conds]
            for name in names}
    return columns, rows


def cell(text: str) -> tuple[float, float | None, int]:
    """'1918${\\pm}$23' -> (1918.0, 23.0, decimals); a bold mean counts as its number; a spread printed
    "$<$0.05" reads as 0 at one more decimal (it is below half the column's last digit); "x1000": a column
    in thousands, read back in units (decimals 3 fewer)."""
    scale = 1000.0 if text.endswith(" x1000") else 1.0
    text = text.removesuffix(" x1000").replace(r"$^\dagger$", "")
    mean, _, std = text.partition(r"${\pm}$")
    mean = re.sub(r"\\textbf\{(.+?)\}", r"\1", mean)
    decimals = len(mean.split(".")[1]) if "." in mean else 0
    spread = None
    if std.startswith("$<$"):
        spread = 0.0
    elif std:
        spread = float(std) * scale
    return float(mean) * scale, spread, decimals - (3 if scale > 1 else 0)


def columns_to_keys(columns, config):
    label_task = {info.label: name for name, info in config.tasks.items()}
    cond = {"ID": "standard", "OOD": "atlantis"}
    return [(cond[c], label_task[label]) for label, c in columns]


def assert_matches(tex: str, expected: dict[tuple[str, str, str], list[float]], config) -> dict[str, list[str]]:
    columns, rows = parse(tex)
    keys = columns_to_keys(columns, config)
    assert sorted(rows) == sorted({name for name, _, _ in expected})
    for name, cells in rows.items():
        for (condition, task), text in zip(keys, cells, strict=True):
            values = expected[name, condition, task]
            mean, std, d = cell(text)
            half = 0.5 * 10 ** -d + 1e-9
            assert abs(mean - statistics.mean(values)) <= half, (name, condition, task, text, values)
            if len(values) > 1:
                assert std is not None and abs(std - statistics.stdev(values)) <= half, (name, task, text)
            else:
                assert std is None, (name, task, text)
    return rows


def test_one_row_per_experiment_with_mean_and_std_over_seeds(tree, tmp_path):
    code, out = render(tree, tmp_path)
    assert code == 0
    config = load_config(REPO / "rules.yaml")
    tex = (out / "tables" / "raw_metrics.tex").read_text()
    rows = assert_matches(tex, by_experiment(last_values(tree)), config)
    assert list(rows) == ["pt1", "ft1-1", "ft1-2", "ft2-1"]  # baseline first, short names, rules order
    assert tex.count(r"\midrule") == 1 + 1  # under the header, then between the conditions' blocks
    assert tex.count(r"\addlinespace[3pt]") == 2 * 2  # between groups, in each block
    for piece in (r"\begin{table}[t]", r"\caption{Raw metrics at the last checkpoint (mean $\pm$ std over 3 seeds)",
                  r"\label{tab:raw_metrics}", r"\toprule", r"\bottomrule", r"\end{table}",
                  "Experiment & Distance & Triangle area & Crossing \\\\\n & $\\downarrow$ & $\\downarrow$ & $\\uparrow$",
                  r"\textit{Standard}", r"\textit{Atlantis (OOD)}"):
        assert piece in tex, piece
    assert "resizebox" not in tex and not re.search(r"\\(small|footnotesize|scriptsize|tiny)\b", tex)
    body = re.sub(r"\\[{}$]", "", tex)  # escaped braces and dollars do not count
    assert body.count("{") == body.count("}") and body.count("$") % 2 == 0  # balanced: it compiles as pasted


def test_by_seed_table_has_one_row_per_run(tree, tmp_path):
    code, out = render(tree, tmp_path)
    assert code == 0
    config = load_config(REPO / "rules.yaml")
    values = last_values(tree)
    expected = {}
    for (run, condition, task), v in values.items():
        m = re.fullmatch(r"pt1(?:_seed(\d+))?(?:_(ft\d+-\d+))?", run)
        expected[f"{m.group(2) or 'pt1'} (seed {m.group(1) or 0})", condition, task] = [v]
    tex = (out / "tables" / "raw_metrics_by_seed.tex").read_text()
    rows = assert_matches(tex, expected, config)
    assert len(rows) == 4 * 3 and r"\label{tab:raw_metrics_by_seed}" in tex


def test_rules_pick_experiments_and_seeds(tree, tmp_path):
    latex = {"experiments": ["ft1-*"], "seeds": [0, 3], "caption": r"Chosen runs \emph{only}.", "label": "tab:x"}
    code, out = render(tree, tmp_path, latex)
    assert code == 0
    config = load_config(REPO / "rules.yaml")
    tex = (out / "tables" / "raw_metrics.tex").read_text()
    expected = {k: v for k, v in by_experiment(last_values(tree), seeds={0, 3}).items() if k[0] != "ft2-1"}
    rows = assert_matches(tex, expected, config)
    assert list(rows) == ["pt1", "ft1-1", "ft1-2"]  # the baseline stays as the reference row
    assert r"\caption{Chosen runs \emph{only}." in tex and r"\label{tab:x}" in tex
    by_seed = parse((out / "tables" / "raw_metrics_by_seed.tex").read_text())[1]
    assert sorted(by_seed) == sorted(f"{n} (seed {s})" for n in ("pt1", "ft1-1", "ft1-2") for s in (0, 3))


@pytest.mark.parametrize("latex, key", [
    ({"experiments": ["ft3-*"]}, "latex.experiments[0]: 'ft3-*' matches no experiment"),
    ({"seeds": [7]}, "latex.seeds[0]: no run has seed '7'"),
])
def test_a_choice_matching_nothing_fails_that_table_naming_the_key(tree, tmp_path, capsys, latex, key):
    code, out = render(tree, tmp_path, latex)
    assert code == 1
    assert key in capsys.readouterr().err
    assert not (out / "tables" / "raw_metrics.tex").exists()


@pytest.mark.parametrize("latex, key", [
    ({"experiments": "ft1-*"}, "latex.experiments: expected a list"),
    ({"experiments": [3]}, "latex.experiments[0]: expected an experiment name or glob"),
    ({"seeds": [[1]]}, "latex.seeds[0]: expected a seed"),
    ({"caption": 5}, "latex.caption: expected a string"),
    ({"lable": "tab:x"}, "latex.lable: unknown key"),
    ("all", "latex: expected a mapping"),
])
def test_bad_latex_rules_name_file_and_key(tmp_path, latex, key):
    path = rules(tmp_path, latex)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {key}")


def test_fewer_seeds_in_a_cell_get_a_dagger_and_varying_seeds_an_n_column(tmp_path):
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=1, ft2=0, checkpoints=2, tasks=("distance", "crossing"))
    (root / "pt1_seed2_ft1-1" / "evals" / "crossing" / "eval_data" / "evaluation_results.json").unlink()
    write_eval(root, "pt1_seed3", "distance", {"checkpoint-1": {"eval_distance_metric_mean": 3.0}})
    code, out = render(root, tmp_path)
    tex = (out / "tables" / "raw_metrics.tex").read_text()
    assert code == 0
    columns, rows = parse(tex)
    assert rows["pt1"][0] == "3"  # n: pt1 has 3 seeds, ft1-1 two
    assert rows["ft1-1"][0] == "2"
    col = {c: i + 1 for i, c in enumerate(columns)}  # after the n column
    crossing_id = rows["ft1-1"][col["Crossing", "ID"]]  # seed 2 has no crossing evaluation
    assert crossing_id.endswith(r"$^\dagger$") and r"\pm" not in crossing_id
    assert rows["pt1"][col["Distance", "ID"]].count(r"\pm") == 1 and "dagger" not in rows["pt1"][col["Distance", "ID"]]
    assert rows["pt1"][col["Distance", "OOD"]].endswith(r"$^\dagger$")  # pt1_seed3: standard data only
    assert r"$^\dagger$ fewer seeds" in tex and "2--3 seeds (n per row)" in tex


@pytest.mark.parametrize("values, stds, printed", [
    ([1918.0, 1976.0], None, ["1918", "1976"]),  # 2 significant figures made both 2000 (issue 13)
    ([0.812, 0.835, 0.806], [0.012, 0.02, 0.01], ["0.812", "0.835", "0.806"]),
    ([93869.0, 91776.0], [1480.0, 900.0], ["93869", "91776"]),
    ([3.09, 2.93], [0.11, 0.2], ["3.09", "2.93"]),
    ([0.0, 0.0], None, ["0", "0"]),
    ([-0.0001, 0.5], None, ["0.000", "0.500"]),  # never "-0.000"
])
def test_column_decimals_keep_the_differences(values, stds, printed):
    d = column_decimals(_series(values), _series(stds) if stds else None)
    assert [number(v, d) for v in values] == printed


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(1e-4, 1e6), min_size=2, max_size=30))
def test_values_more_than_one_percent_apart_never_print_the_same(values):
    """Any two values of a column further apart than 1% of the column's median print differently."""
    a, b = values[0], values[1]
    assume(abs(a - b) > 0.01 * statistics.median(values) * 1.000001)
    d = column_decimals(_series(values))
    assert number(a, d) != number(b, d)
    assert 0 <= d <= 6


def _series(values):
    import pandas as pd
    return pd.Series(values, dtype="float64")


@pytest.mark.parametrize("name, short", [
    ("pt1_ftwb2-4", "ftwb2-4"), ("pt1_wide_ftwb1", "wide_ftwb1"), ("pt1", "pt1"), ("other", "other"),
])
def test_short_names_drop_the_baseline_prefix_for_any_pattern(tmp_path, name, short):
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw["experiments"]["pattern"] = (r"^(?P<base>pt1)(?P<seedpart>_seed(?P<seed>\d+))?"
                                     r"(?P<finetune>_(?P<group>(?:wide_)?ftwb\d+)(?:-(?P<index>\d+))?)?$")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert short_name(name, load_config(path)) == short


def test_no_scores_give_an_empty_table_that_still_compiles(config):
    from analysis.latex import raw_metrics_by_seed_latex, raw_metrics_latex
    from analysis.scores import SCORE_COLUMNS
    import pandas as pd
    empty = pd.DataFrame(columns=SCORE_COLUMNS)
    for fn in (raw_metrics_latex, raw_metrics_by_seed_latex):
        tex = fn(empty, config)
        assert r"\begin{tabular}{l}" in tex and r"\bottomrule" in tex and tex.count("{") == tex.count("}")
        assert "\nExperiment \\\\\n" in tex  # one column: no alignment tab


def test_each_column_bolds_its_best_and_no_spread_prints_as_zero(tree, tmp_path):
    code, out = render(tree, tmp_path)
    assert code == 0
    config = load_config(REPO / "rules.yaml")
    tex = (out / "tables" / "raw_metrics.tex").read_text()
    columns, rows = parse(tex)
    for i, ((label, cond), key) in enumerate(zip(columns, columns_to_keys(columns, config))):
        column = {name: cells[i] for name, cells in rows.items()}
        bold = [name for name, text in column.items() if r"\textbf{" in text]
        means = {name: cell(text)[0] for name, text in column.items()}
        pick = max if config.tasks[key[1]].higher_is_better else min
        assert bold == [pick(means, key=means.get)], (label, cond, column)
    assert not re.search(r"\{\\pm\}\$0(\.0+)?(?![.0-9])", tex)  # never "± 0.0"


@pytest.mark.parametrize("decimals, std, printed", [
    (1, 0.02, "< 0.05"), (3, 0.0004, "< 0.0005"), (1, 0.3, "0.3"), (0, 0.4, "< 0.5"), (2, 0.0, "0"),
])
def test_a_spread_that_rounds_to_zero_says_how_small_it_is(decimals, std, printed):
    from analysis.latex import ColumnFormat
    assert ColumnFormat(decimals).spread(std) == printed


def test_five_digit_columns_print_in_thousands():
    from analysis.latex import column_format
    fmt = column_format(_series([92822.0, 122053.0, 7902.0]), _series([1480.0, 13256.0, 797.0]))
    assert fmt.exponent == 3
    assert (fmt.text(123318.0), fmt.text(92822.0), fmt.plain(7902.0)) == ("123.3", "92.8", "7.9×10³")
    assert column_format(_series([1918.0, 1976.0])).exponent == 0  # four digits stay as they are


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (.ci/run installs it)")
@pytest.mark.parametrize("name", ["raw_metrics.tex", "raw_metrics_by_seed.tex"])
def test_the_bundled_tables_compile_at_the_texts_size_on_a_7_in_page(tmp_path, name):
    """The bundled example's tables, \\input as pasted into a paper (booktabs, a 7 in text width: a
    two-column paper's table*), compile without error and without running past the text width."""
    import subprocess
    out = tmp_path / "out"
    assert run_all.main(["--out", str(out), "--only", *OUTPUTS, "--jobs", "1", "-q"]) == 0
    doc = tmp_path / "paper.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage[textwidth=7in]{geometry}\n\\usepackage{booktabs}\n"
                   f"\\begin{{document}}\n\\input{{{out / 'tables' / name}}}\n\\end{{document}}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    log = (tmp_path / "paper.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log, [line for line in log.splitlines() if "Overfull" in line]
