"""Outputs you can trust (issue 23): our outputs are never read back as evaluations, a path problem
below --out stops the run before anything is written, an interrupted run keeps what it finished,
conflicting values are said, one seed numbering, quiet logs, messages that are true."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import run_all
from runner import pipeline as pipeline_module
from testing_helpers import write_trainer_run


# The registry of plot modules lives for the whole pytest process (other tests add failing ones):
# in-process runs name their outputs; runs that must see every output run in a fresh process.
ONLY = ("overview", "last_values", "metrics_csv", "scores_csv", "scores_by_seed", "predictions_csv",
        "summary")


def run(*args) -> int:
    only = () if "--only" in args or "--init" in args else ("--only", *ONLY)
    return run_all.main([*map(str, args), *only, "--jobs", "1", "-q"])


def cli(*args) -> tuple[int, str]:
    """`python run_all.py ARGS` in a fresh process: (exit code, stderr)."""
    import subprocess
    import sys

    from testing_helpers import REPO
    done = subprocess.run([sys.executable, "run_all.py", *map(str, args), "--jobs", "1", "-q"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr


def outputs(out: Path) -> dict[str, int]:
    """Every file we wrote under `out` (not the cache), with its size."""
    return {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*"))
            if p.is_file() and ".cache" not in p.relative_to(out).parts}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# --- 1. our outputs are ours ----------------------------------------------------------------------

def test_out_inside_data_three_runs_keep_every_output(trainer_runs):
    out = trainer_runs / "figures"
    code, err = cli("--data", trainer_runs, "--out", out)
    assert code == 0, err
    first = outputs(out)
    metrics = (out / "tables" / "metrics.csv").read_text()
    assert "figures/" not in metrics and len(first) > 5
    for _ in range(2):
        code, err = cli("--data", trainer_runs, "--out", out, "--force")  # --force: every file read and drawn
        assert code == 0, err
        assert "unreadable" not in err and "stale removed" not in err, err
        assert "3 evaluation files" in err, err  # our own tables are not evaluation files
        assert set(outputs(out)) == set(first)
        assert (out / "tables" / "metrics.csv").read_text() == metrics
    assert (out / ".eval-figures").is_file()  # the marker that says: ours


@pytest.mark.parametrize("where", [".", "tables"])
def test_data_that_is_an_output_folder_is_exit_2(trainer_runs, tmp_path, capsys, where):
    out = tmp_path / "figures"
    assert run("--data", trainer_runs, "--out", out) == 0
    capsys.readouterr()
    assert run("--data", out / where, "--out", tmp_path / "again") == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "is an output folder" in lines[0] and str(out) in lines[0], lines
    assert not (tmp_path / "again").exists()


def test_an_old_output_folder_without_the_marker_is_still_known(trainer_runs, tmp_path, capsys):
    """Folders written before the marker existed: recognised by their cache, not read as data."""
    out = trainer_runs / "figures"
    assert run("--data", trainer_runs, "--out", out) == 0
    (out / ".eval-figures").unlink()
    capsys.readouterr()
    assert run("--data", trainer_runs, "--out", tmp_path / "elsewhere") == 0
    err = capsys.readouterr().err
    assert "3 evaluation files" in err and "unreadable" not in err, err
    assert run("--data", out, "--out", tmp_path / "o2") == 2


def test_stale_removal_removes_only_files_the_manifest_says_we_wrote(trainer_runs, tmp_path):
    out = tmp_path / "figures"
    assert run("--data", trainer_runs, "--out", out) == 0
    precious = tmp_path / "precious.txt"
    precious.write_text("the user's")
    manifest = out / ".cache" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["outputs"]["../precious.txt"] = {"fingerprint": "x", "output": "a_removed_module"}
    data["outputs"][str(precious)] = {"fingerprint": "x", "output": "a_removed_module"}
    manifest.write_text(json.dumps(data))
    (trainer_runs / "roberta" / "trainer_state.json").unlink()  # something changes: a real run
    code, err = cli("--data", trainer_runs, "--out", out)  # every output selected: stale ones are removed
    assert code == 0, err
    assert precious.read_text() == "the user's"


# --- 2. every output path checked before work -----------------------------------------------------

@pytest.mark.parametrize("in_the_way", ["tables", "suite", "overview/runs_1.png/",
                                        ".cache/blocks", "tables/metrics.csv/"])
def test_a_file_in_the_way_below_out_is_exit_2_and_nothing_is_written(trainer_runs, tmp_path, capsys,
                                                                      in_the_way):
    out = tmp_path / "figures"
    blocker = out / in_the_way.rstrip("/")
    blocker.parent.mkdir(parents=True)
    if in_the_way.endswith("/"):  # a folder where a file goes
        blocker.mkdir()
    else:
        blocker.write_text("mine")
    before = sorted(p for p in out.rglob("*"))
    assert run("--data", trainer_runs, "--out", out) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "cannot write the outputs" in lines[0] and str(blocker) in lines[0], lines
    assert sorted(p for p in out.rglob("*")) == before


# --- 3. Ctrl-C keeps its promise ------------------------------------------------------------------

def test_the_rerun_after_ctrl_c_redraws_only_what_was_not_finished(trainer_runs, tmp_path, monkeypatch):
    out = tmp_path / "figures"
    real = pipeline_module.render_job
    calls: list[str] = []
    finish = 4

    def interrupted(job, *args, **kwargs):
        if len(calls) == finish:
            raise KeyboardInterrupt
        calls.append(job.rel_path)
        return real(job, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, "render_job", interrupted)
    assert run("--data", trainer_runs, "--out", out) == 130
    assert len(calls) == finish
    redrawn: list[str] = []

    def counted(job, *args, **kwargs):
        redrawn.append(job.rel_path)
        return real(job, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, "render_job", counted)
    assert run("--data", trainer_runs, "--out", out) == 0
    assert not set(redrawn) & set(calls)
    total = len(json.loads((out / ".cache" / "manifest.json").read_text())["outputs"])
    assert len(redrawn) == total - finish


def _watch(data: Path, out: Path, *extra: str):
    """A `run_all.py --watch` subprocess and the list its log lines are collected into."""
    import subprocess
    import sys
    import threading

    from testing_helpers import REPO
    proc = subprocess.Popen([sys.executable, "run_all.py", "--watch", "--data", str(data), "--out", str(out),
                             "--jobs", "1", *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _wait_for(condition, timeout: float = 60.0) -> bool:
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_watch_with_out_inside_data_ignores_its_own_writes(trainer_runs):
    import signal
    import time
    out = trainer_runs / "figures"
    proc, lines = _watch(trainer_runs, out, "-q")
    try:
        assert _wait_for(lambda: any("watching " in line for line in lines)), lines
        first = outputs(out)
        time.sleep(2.0)  # our own writes of the first build: no rebuild, nothing read
        assert not [line for line in lines if "rebuild:" in line], lines
        for i, name in enumerate(["electra", "deberta"]):  # new evaluations arrive
            write_trainer_run(trainer_runs / name, [0.5 + i / 10, 0.6, 0.7])
            assert _wait_for(lambda: (out / "tables" / "metrics.csv").is_file()
                             and f"{name}/trainer_state.json" in (out / "tables" / "metrics.csv").read_text()), lines
        assert _wait_for(lambda: set(first) <= set(outputs(out)))
        sources = {row.rsplit(",", 1)[-1] for row in (out / "tables" / "metrics.csv").read_text().splitlines()[1:]}
        assert sources == {f"{r}/trainer_state.json" for r in ("bert-seed1", "bert-seed2", "roberta", "electra",
                                                               "deberta")}
        assert "unreadable" not in "\n".join(lines) and "removed" not in "\n".join(lines), lines
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


# --- 4. conflicts are said ------------------------------------------------------------------------

def _lm_eval(path: Path, acc: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": {"hellaswag": {"alias": "hellaswag", "acc,none": acc,
                                                          "acc_stderr,none": 0.0049}},
                                "config": {"model_args": "pretrained=EleutherAI/pythia-160m"}}))
    return path


@pytest.mark.parametrize("older, newer, times", [
    # the date in lm-eval's file names decides, whatever the files' times say
    ("pythia/results_2024-08-21T04-27-29.701325.json", "pythia/results_2024-09-01T03-44-09.494230.json",
     (2_000_000_000, 1_000_000_000)),
    # without a date in the name: the file's time (the older file has the later path)
    ("run2/pythia/results.json", "run1/pythia/results.json", (1_000_000_000, 2_000_000_000)),
])
def test_two_files_giving_one_record_two_values_is_one_line_and_the_newer_wins(tmp_path, capsys, older, newer,
                                                                               times):
    data = tmp_path / "lm"
    old = _lm_eval(data / older, 0.5714)
    new = _lm_eval(data / newer, 0.5716)
    os.utime(old, (times[0], times[0]))
    os.utime(new, (times[1], times[1]))
    out = tmp_path / "out"
    assert run("--data", data, "--out", out) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("conflict:")]
    assert len(lines) == 1, lines
    assert older in lines[0] and newer in lines[0] and "0.5716" in lines[0] and "0.5714" in lines[0]
    assert f"the figures use {newer}" in lines[0]
    import pandas as pd
    metrics = pd.read_csv(out / "tables" / "metrics.csv", keep_default_na=False)
    acc = metrics[(metrics["metric"] == "hellaswag_acc") & (metrics["statistic"] == "value")].set_index("source")
    assert acc.loc[older, "superseded_by"] == newer and acc.loc[newer, "superseded_by"] == ""
    assert sorted(acc["value"]) == [0.5714, 0.5716]
    scores = pd.read_csv(out / "tables" / "scores.csv")
    assert scores.loc[scores["task"] == "hellaswag", "value"].tolist() == [0.5716]


def test_without_a_conflict_metrics_csv_has_no_new_column(trainer_runs, tmp_path):
    out = tmp_path / "out"
    assert run("--data", trainer_runs, "--out", out) == 0
    assert (out / "tables" / "metrics.csv").read_text().splitlines()[0] == \
        "experiment,condition,task,step,metric,statistic,value,source"


# --- 5. one seed numbering ------------------------------------------------------------------------

def test_a_run_without_a_seed_part_is_seed_0_outside_the_sweep_too(trainer_runs, tmp_path, capsys):
    write_trainer_run(trainer_runs / "bert", [0.71, 0.81, 0.86])
    out = tmp_path / "out"
    assert run("--data", trainer_runs, "--out", out) == 0
    import pandas as pd
    scores = pd.read_csv(out / "tables" / "scores.csv")
    seeds = dict(zip(scores["run"], scores["seed"]))
    assert seeds["bert"] == 0 and seeds["roberta"] == 0 and seeds["bert-seed1"] == 1 and seeds["bert-seed2"] == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "seed 0" in line]
    assert len(lines) == 1 and "bert" in lines[0] and "roberta" not in lines[0], lines  # roberta has no seeds


# --- 6. quiet by default, complete on request -----------------------------------------------------

def test_runs_missing_one_evaluation_are_one_gap_line_and_all_in_the_gaps_table(tmp_path, capsys):
    from utils.synthetic import write_tree
    import shutil
    data = tmp_path / "exp"
    write_tree(data, seeds=1, ft1=3, ft2=3, checkpoints=2)
    missing = sorted(p.name for p in data.iterdir() if p.name != "pt1")[:4]
    for name in missing:
        shutil.rmtree(data / name / "evals" / "atlantis_angle")
    out = tmp_path / "out"
    assert run("--data", data, "--out", out, "--only", "scores_csv") == 0
    gaps = [line for line in capsys.readouterr().err.splitlines() if line.startswith("gap:")]
    assert len(gaps) == 1, gaps
    assert f"{len(missing)} run(s) missing evaluation(s) atlantis/angle" in gaps[0]
    assert "tables/gaps.csv" in gaps[0] and "+ 1 more" in gaps[0]
    import pandas as pd
    table = pd.read_csv(out / "tables" / "gaps.csv")
    assert sorted(table.loc[table["kind"] == "missing_evaluation", "experiment"]) == missing
    for name in missing:  # complete again: the table goes (the manifest says we wrote it)
        shutil.copytree(data / "pt1" / "evals" / "atlantis_angle", data / name / "evals" / "atlantis_angle")
    assert run("--data", data, "--out", out, "--only", "scores_csv") == 0
    assert not (out / "tables" / "gaps.csv").exists()
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("gap:")]


def test_many_unreadable_files_are_folded_into_one_line(trainer_runs, tmp_path, capsys):
    bad = [trainer_runs / f"broken{i}" / "trainer_state.json" for i in range(6)]
    for path in bad:
        path.parent.mkdir()
        path.write_text('{"log_history": [')
    assert run("--data", trainer_runs, "--out", tmp_path / "out", "--only", "metrics_csv") == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("skipped unreadable")]
    assert len(lines) == 4 and "3 more unreadable file(s)" in lines[3] and "tables/files.csv" in lines[3], lines
    assert str(bad[3]) in lines[3]


def test_watch_says_each_inferred_task_once(trainer_runs, tmp_path):
    import signal
    out = tmp_path / "out"
    write_trainer_run(trainer_runs / "bert", [0.71, 0.81, 0.86])  # seed 0 beside bert-seed1: said once
    proc, lines = _watch(trainer_runs, out, "--only", "scores_csv")
    try:
        assert _wait_for(lambda: any("watching " in line for line in lines)), lines
        assert sum("inferred task accuracy" in line for line in lines) == 1, lines
        write_trainer_run(trainer_runs / "electra-seed1", [0.5, 0.6, 0.7], {"f1": [0.4, 0.5, 0.6]})
        write_trainer_run(trainer_runs / "electra", [0.5, 0.6, 0.7], {"f1": [0.4, 0.5, 0.6]})
        assert _wait_for(lambda: any("rebuild:" in line for line in lines)), lines
        assert _wait_for(lambda: any("inferred task f1" in line for line in lines)), lines
        assert _wait_for(lambda: "electra" in (out / "tables" / "scores.csv").read_text())
        assert sum("inferred task accuracy" in line for line in lines) == 1, lines
        assert sum("seeds:" in line for line in lines) == 1, lines
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


# --- 7. every message made true -------------------------------------------------------------------

def test_help_and_readme_agree(capsys):
    import re

    from testing_helpers import REPO
    with pytest.raises(SystemExit):
        run_all.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    readme = (REPO / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `--")]
    flags = set(re.findall(r"(--[a-z]+)", help_text)) - {"--help"}
    for flag in flags:
        assert any(f"`{flag}" in row for row in table), f"{flag} is not in the README's flag table"
    out_row = next(row for row in table if row.startswith("| `--out"))
    options = help_text[help_text.index("options:"):]
    out_help = options[options.index("--out OUT"):options.index("--only")]
    for words in ("output", "figures/", "beside run_all.py"):
        assert words in out_help and words.replace("run_all.py", "`run_all.py`") in out_row, (words, out_help, out_row)


def test_init_writes_only_what_the_data_has_and_never_reads_its_rules_as_data(trainer_runs, tmp_path, caplog):
    import logging

    import yaml
    caplog.set_level(logging.INFO)
    assert run_all.main(["--init", str(trainer_runs)]) == 0
    assert sum(r.getMessage().startswith("reader ") for r in caplog.records) == 1, caplog.text
    text = (trainer_runs / "rules.yaml").read_text()
    rules = yaml.safe_load(text)
    assert list(rules["conditions"]) == ["standard"] and "atlantis" not in text.lower()
    assert "{task}_metric" not in text
    caplog.clear()
    out = tmp_path / "out"
    assert run_all.main(["--config", str(trainer_runs / "rules.yaml"), "--out", str(out), "--jobs", "1",
                         "--only", "metrics_csv"]) == 0
    assert "rules.yaml" not in caplog.text and "other file" not in caplog.text, caplog.text
    import pandas as pd
    assert set(pd.read_csv(out / "tables" / "metrics.csv")["task"]) == {"accuracy", "loss", "matthews_correlation"}


def test_data_at_a_checkpoint_folder_names_the_run_above_it(tmp_path):
    write_trainer_run(tmp_path / "bert" / "checkpoint-500", [0.7, 0.8, 0.84])
    out = tmp_path / "out"
    assert run("--data", tmp_path / "bert" / "checkpoint-500", "--out", out, "--only", "metrics_csv") == 0
    import pandas as pd
    assert set(pd.read_csv(out / "tables" / "metrics.csv")["experiment"]) == {"bert"}


@pytest.mark.parametrize("out_of", [".", ".."])
def test_an_out_that_holds_data_is_exit_2(trainer_runs, capsys, out_of):
    assert run("--data", trainer_runs, "--out", trainer_runs / out_of) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "holds --data" in lines[0], lines
    assert not (trainer_runs / ".eval-figures").exists() and not (trainer_runs.parent / ".eval-figures").exists()
