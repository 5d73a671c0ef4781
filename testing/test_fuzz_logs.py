"""Mangled training logs and summaries (issue 21): whatever a file under a known name holds, the
load never raises, and every file gets a status in tables/files.csv."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils.loading import STATUSES, load

NAMES = ["run/lightning_logs/version_0/metrics.csv", "run/training.log", "yolo/results.csv", "trial/progress.csv",
         "run/log.jsonl", "run/metrics.json", "run/summary.json", "wandb/run-1/files/wandb-summary.json",
         "mlruns/1/abc/metrics/loss", "my_runs/3/metrics.json", "my_runs/3/run.json", "run/test_results.json"]
HEADERS = [b"epoch,step,train_loss,val_loss\n", b"epoch,loss,val_loss\n", b"  epoch,  train/box_loss,  metrics/mAP50(B)\n",
           b"loss,done,training_iteration\n", b'{"step": 1, "loss": 0.5}\n', b'{"eval_loss": ', b"{", b""]

JSONISH = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                  max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(NAMES), header=st.sampled_from(HEADERS), body=st.binary(max_size=80) | JSONISH.map(
    lambda v: json.dumps(v).encode()))
def test_a_mangled_log_is_read_or_named(tmp_path_factory, config, name, header, body):
    root = tmp_path_factory.mktemp("fuzz")
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body)
    if name.startswith("my_runs"):
        (path.parent / "config.json").write_text("{}")
        (path.parent / ("run.json" if path.name == "metrics.json" else "metrics.json")).write_text("{}")
    if name.startswith("mlruns"):
        (root / "mlruns/1/abc/meta.yaml").write_text("run_name: fuzz\n")
    result = load(root, config)
    assert {f.status for f in result.statuses} <= set(STATUSES)
    assert name in {f.path for f in result.statuses}
    assert not ((result.status_frame()["status"] == "read") & (result.status_frame()["records"] == 0)).any()
