"""tables/files.csv (issue 21, item 4): every file under --data gets a row with the reader that took
it, its records and a status with the reason; the log counts the statuses and names a few files of
each; a file read with no record is never reported as read; a Git LFS pointer is named whatever the
file type."""
import json
import logging

import pandas as pd

import run_all
from readers_helpers import REAL, real
from utils.loading import STATUSES, load

POINTER = (b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 1234\n")


def _tree(root):
    run = root / "bert"
    run.mkdir(parents=True)
    (run / "trainer_state.json").write_text(json.dumps(
        {"global_step": 20, "log_history": [{"loss": 0.5, "step": 10}, {"eval_loss": 0.4, "step": 20}]}))
    (run / "config.json").write_text('{"hidden_size": 768}')
    (run / "metrics.csv").write_bytes(POINTER)  # a pointer no reader would take by its content
    (run / "events.out.tfevents.1.host").write_bytes(POINTER)
    empty = root / "roberta"
    empty.mkdir()
    (empty / "trainer_state.json").write_text(json.dumps({"global_step": 0, "log_history": []}))
    (empty / "eval_results.json").write_text('{"eval_loss": 0.3,')  # cut mid-write
    return {"bert/trainer_state.json": ("read", 2), "bert/config.json": ("not an evaluation file", 0),
            "bert/metrics.csv": ("Git LFS pointer", 0), "bert/events.out.tfevents.1.host": ("Git LFS pointer", 0),
            "roberta/trainer_state.json": ("read but empty", 0), "roberta/eval_results.json": ("unreadable", 0)}


def test_every_file_has_a_status(tmp_path, caplog):
    want = _tree(tmp_path / "data")
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        code = run_all.main(["--data", str(tmp_path / "data"), "--out", str(out), "--only", "files_csv",
                             "metrics_csv", "--jobs", "1"])
    assert code == 0
    files = pd.read_csv(out / "tables" / "files.csv", keep_default_na=False)
    got = {p: (s, n) for p, s, n in zip(files["path"], files["status"], files["records"])}
    assert got == want
    assert set(files["status"]) <= set(STATUSES) and files["reason"][files["status"] != "read"].str.len().min() > 10
    assert "git lfs pull" in files.set_index("path").loc["bert/events.out.tfevents.1.host", "reason"]
    lines = [r.getMessage() for r in caplog.records]
    assert ("files under the data root: 1 read, 1 read but empty, 1 not an evaluation file, 1 unreadable, "
            "2 Git LFS pointer (each with its reason in tables/files.csv)") in lines
    assert "read but empty: roberta/trainer_state.json" in lines
    assert len(pd.read_csv(out / "tables" / "metrics.csv")) == 2


def test_the_summary_never_counts_an_empty_file_as_read(tmp_path, capsys):
    _tree(tmp_path / "data")
    code = run_all.main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--only", "files_csv",
                         "--jobs", "1", "-q"])
    err = capsys.readouterr().err
    assert code == 0
    assert "evaluation files, 1 read, 1 read but empty, " in err


def test_the_real_tree_is_accounted_for(tmp_path):
    real("hf_runs")
    result = load(REAL, __import__("utils.config", fromlist=["load_config"]).load_config(None))
    paths = {f.path for f in result.statuses}
    on_disk = {p.relative_to(REAL).as_posix() for p in REAL.rglob("*") if p.is_file()}
    assert paths == on_disk
    table = result.status_frame()
    assert not ((table["status"] == "read") & (table["records"] == 0)).any()
    assert (table.set_index("path").loc["hf_runs/spam-detection-lfs/checkpoint-500/trainer_state.json", "status"]
            == "Git LFS pointer")
