"""raw_metrics.tex for runs nobody described (analysis.latex.runs_latex): a block per run group, runs x the
headline metric of each task, mean ± std over seeds, at most a page wide; `latex.columns` picks the columns."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import run_all
from readers_helpers import copy_real
from testing_helpers import REPO, write_trainer_run


def render(root: Path, tmp_path: Path, latex: dict | None = None) -> tuple[int, Path]:
    args = ["--data", str(root), "--out", str(tmp_path / "out"), "--only", "raw_metrics_tex",
            "raw_metrics_by_seed_tex", "--jobs", "1", "-q"]
    if latex is not None:
        raw = yaml.safe_load((REPO / "rules.yaml").read_text())
        raw["latex"] = latex
        raw["experiments"] = {"pattern": None, "baseline": None}
        raw["data"].pop("root", None)
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump(raw))
        args += ["--config", str(tmp_path / "rules.yaml")]
    return run_all.main(args), tmp_path / "out" / "tables"


def blocks(tex: str) -> list[list[list[str]]]:
    """Each tabular's rows as cells (header first)."""
    out = []
    for body in re.findall(r"\\begin\{tabular\}\{[lr]+\}(.*?)\\end\{tabular\}", tex, re.S):
        rows = [ln.rstrip("\\ ").split(" & ") for ln in body.splitlines() if ln.endswith(r"\\")]
        out.append(rows)
    return out


def test_real_runs_give_a_table_a_page_wide(tmp_path):
    root = copy_real(["hf_runs", "lm_eval"], tmp_path / "tree")
    code, tables = render(root, tmp_path)
    assert code == 0
    tex = (tables / "raw_metrics.tex").read_text()
    hf, lm = blocks(tex)
    assert hf[0][0] == r"hf\_runs" and lm[0][0] == r"lm\_eval"
    assert all(len(row) <= 9 for b in (hf, lm) for row in b)  # at most 8 columns a group
    rows = {r[0]: dict(zip(hf[0][1:], r[1:])) for r in hf[1:]}
    assert rows["dnabert2"][r"accuracy ($\uparrow$)"] == "0.943"  # eval_accuracy 0.942672... at step 2200
    assert rows["whisper-small-hi"][r"wer ($\downarrow$)"] == "32.1"
    lm_rows = {r[0]: dict(zip(lm[0][1:], r[1:])) for r in lm[1:]}
    assert lm_rows["pythia-v1.1-160m"][r"mmlu ($\uparrow$)"].endswith("*")  # the mean of its 57 subtasks
    assert "hendrycksTest" not in tex and r"mmlu\_" not in tex
    assert r"lm\_eval, not shown: " in tex  # what did not fit is named
    assert len(tex.splitlines()) < 60  # not 150 columns by 16 rows
    if shutil.which("pdflatex"):
        doc = tmp_path / "t.tex"
        doc.write_text("\\documentclass{article}\\usepackage{booktabs,graphicx}\\begin{document}"
                       f"\\input{{{tables / 'raw_metrics.tex'}}}\\end{{document}}\n")
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", doc.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:]
        assert "Overfull \\hbox" not in (tmp_path / "t.log").read_text()


def test_seeds_are_averaged_and_columns_picked(tmp_path, capsys):
    root = tmp_path / "runs"
    write_trainer_run(root / "bert-seed1", [0.70, 0.80], {"f1": [0.6, 0.7]})
    write_trainer_run(root / "bert-seed2", [0.72, 0.90], {"f1": [0.6, 0.8]})
    write_trainer_run(root / "roberta", [0.60, 0.75], {"f1": [0.5, 0.6]})
    code, tables = render(root, tmp_path / "a")
    assert code == 0
    [table] = blocks((tables / "raw_metrics.tex").read_text())
    assert table[0] == ["runs", r"accuracy ($\uparrow$)"]  # one headline metric per run's task
    assert table[1] == ["bert", r"0.850 $\pm$ 0.071"] and table[2] == ["roberta", "0.750"]
    [by_seed] = blocks((tables / "raw_metrics_by_seed.tex").read_text())
    assert [r[0] for r in by_seed[1:]] == ["bert-seed1", "bert-seed2", "roberta"]
    code, tables = render(root, tmp_path / "b", {"columns": ["f1", "loss"]})
    assert code == 0
    [table] = blocks((tables / "raw_metrics.tex").read_text())
    assert table[0] == ["runs", r"f1 ($\uparrow$)", r"loss ($\downarrow$)"]
    code, _ = render(root, tmp_path / "c", {"columns": ["bleu"]})
    assert code == 1  # as latex.experiments: the table fails, naming the key, the rest is drawn
    assert "latex.columns[0]: 'bleu' matches no metric or task (e.g. accuracy, f1, loss)" in capsys.readouterr().err
