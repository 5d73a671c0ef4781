"""TensorBoard event files through the tensorboard package's own reader (optional extra)."""
import logging

import pytest

from readers_helpers import copy_real, real
from utils.loading import load
from utils.readers import tensorboard as tb

T5 = "hf_runs/t5-cnn-summarization"
EVENTS = f"{T5}/runs/Mar24_22-23-40_DESKTOP-41L2EO3/events.out.tfevents.1742884204.DESKTOP-41L2EO3.107869.1"


def test_eval_scalars_are_trainer_metrics(config):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    path = real(EVENTS)
    root = path.parents[5]
    recs = tb.read_tensorboard(path, root, config)
    assert {r.experiment for r in recs} == {"t5-cnn-summarization"}  # the output dir above runs/
    by = {r.metric: r for r in recs}
    assert set(by) == {"loss", "rouge1", "rouge2", "rougeL", "rougeLsum", "gen_len"}  # no runtime, no train/
    assert by["rouge1"].step == 215337 and by["rouge1"].value == pytest.approx(41.6324, rel=1e-6)


def test_event_file_repeating_the_json_is_merged_json_kept(tmp_path, config):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    root = copy_real([T5], tmp_path / "t")
    frame = load(root, config).frame
    rouge = frame[frame["metric"] == "rouge1"]
    assert len(rouge) == 1 and rouge["value"].iloc[0] == 41.6324  # the JSON's float64, not float32
    assert "tfevents" not in rouge["source"].iloc[0]


def test_without_the_package_one_line_says_how_to_get_it(tmp_path, config, monkeypatch, caplog):
    root = copy_real([T5], tmp_path / "t")
    import builtins
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    monkeypatch.setattr(tb, "_told", False)
    with caplog.at_level(logging.INFO):
        result = load(root, config)
        load(root, config)
    said = [r.getMessage() for r in caplog.records if "tensorboard package is not installed" in r.getMessage()]
    assert len(said) == 1 and "pip install -e '.[tensorboard]'" in said[0]
    assert not result.problems and not any("tfevents" in str(p) for p in result.files)


@pytest.mark.parametrize("rel, experiment", [
    ("out/bert/runs/Mar24_host/events.out.tfevents.1.host", "bert"),
    ("runs/Mar24_host/events.out.tfevents.1.host", "data"),     # the data root is the output dir
    ("out/bert/events.out.tfevents.1.host", "bert"),            # written elsewhere: its folder
])
def test_experiment_is_the_output_dir_holding_runs(tmp_path, config, rel, experiment):
    root = tmp_path / "data"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    assert tb.run_experiment(root / rel, root, config) == experiment


FINANCE = (
    "tensorboard_runs/finance-llm/runs/Sep04_00-37-02_82e4ef84eb61/events.out.tfevents.1725410994.82e4ef84eb61.1712.0")
DREAMER = "jsonl_logs/dreamer-fetch-reach/events.out.tfevents.1628105738.Turing.35797.13.v2"  # TF2 tensor scalars


def _event_times(path):
    """{(step, value): wall times} of every scalar, read with tensorboard's EventAccumulator."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0}, purge_orphaned_data=False)
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        for e in acc.Scalars(tag):
            out.setdefault((e.step, e.value), set()).add(e.wall_time)
    for tag in acc.Tags()["tensors"]:
        for e in acc.Tensors(tag):
            array = tensor_util.make_ndarray(e.tensor_proto)
            if array.shape == () and array.dtype.kind == "f":
                out.setdefault((e.step, float(array.item())), set()).add(e.wall_time)
    return out


@pytest.mark.parametrize("rel", [FINANCE, DREAMER, "ray_tune"], ids=["trainer", "tf2 tensors", "ray trial"])
def test_every_scalar_carries_its_events_wall_time(config, rel):
    pytest.importorskip("tensorboard", reason="the tensorboard extra: pip install -e '.[tensorboard]'")
    path = real(rel) if rel != "ray_tune" else sorted(real(rel).rglob("events.out.tfevents.*"))[0]
    want = _event_times(path)
    for read in (lambda: tb.read_tensorboard(path, path.parent, config),
                 lambda: tb._tail(path, path.parent, config, 0)):  # the tail reader from the first record on
        recs = read()
        assert len(recs) > 20
        assert all(r.wall_time in want[(r.step, r.value)] for r in recs)
        assert min(r.wall_time for r in recs) > 1.6e9  # seconds since the epoch: written after 2020
