"""Plain-text logs (issue 21, item 3): read only by a rules.yaml readers: entry with a regular
expression whose named groups give the step and the metrics; without one they are listed as not
read; a bad pattern is a rules.yaml error naming the key."""
import pytest

from readers_helpers import rules
from utils.errors import ConfigError
from utils.loading import load

NANOGPT = """Overriding config with config/train_shakespeare_char.py:
iter 0: loss 4.2874, time 29871.90ms, mfu -100.00%
step 0: train loss 4.2874, val loss 4.2823
iter 10: loss 3.2423, time 52.39ms, mfu 7.11%
step 250: train loss 1.9712, val loss 2.0673
saving checkpoint to out-shakespeare-char
step 500: train loss 1.5425, val loss 1.7238
"""
FAIRSEQ = """2021-03-01 | INFO | fairseq_cli.train | begin training epoch 1
| epoch 001 | loss 9.12 | nll_loss 8.95 | ppl 494.7 | wps 12345 | ups 3.2
| epoch 001 | valid on 'valid' subset | loss 8.50 | nll_loss 8.31 | ppl 317.4
| epoch 002 | loss 7.80 | nll_loss 7.61 | ppl 195.3 | wps 12401 | ups 3.2
| epoch 002 | valid on 'valid' subset | loss 7.21 | nll_loss 7.02 | ppl 129.8
"""

CASES = {
    "nanogpt": (NANOGPT, r"step (?P<step>\d+): train loss (?P<train_loss>[\d.]+), val loss (?P<val_loss>[\d.]+)",
                {("train", "loss", 0): 4.2874, ("eval", "loss", 0): 4.2823, ("train", "loss", 250): 1.9712,
                 ("eval", "loss", 250): 2.0673, ("train", "loss", 500): 1.5425, ("eval", "loss", 500): 1.7238}),
    "fairseq": (FAIRSEQ, r"^\| epoch (?P<epoch>\d+) \| loss (?P<train_loss>[\d.]+) \| nll_loss (?P<train_nll_loss>[\d.]+)",
                {("train", "loss", 1): 9.12, ("train", "nll_loss", 1): 8.95, ("train", "loss", 2): 7.80,
                 ("train", "nll_loss", 2): 7.61}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_pattern_reads_the_log(tmp_path, name):
    text, pattern, want = CASES[name]
    cfg = rules(tmp_path, readers=[{"reader": "text_log", "glob": "**/train.log", "pattern": pattern}])
    log = tmp_path / "data" / name / "train.log"
    log.parent.mkdir(parents=True)
    log.write_text(text)
    result = load(tmp_path / "data", cfg)
    frame = result.frame
    assert not result.problems and set(frame["experiment"]) == {name}
    assert {(c, m, s): v for c, m, s, v in zip(frame["condition"], frame["metric"], frame["step"], frame["value"])} == want


def test_without_a_pattern_a_text_log_is_not_read(tmp_path, config):
    log = tmp_path / "run" / "train.log"
    log.parent.mkdir()
    log.write_text(NANOGPT)
    result = load(tmp_path, config)
    [status] = result.statuses
    assert status.status == "not an evaluation file" and result.frame.empty


@pytest.mark.parametrize("pattern, words", [
    (None, "readers[0].pattern: missing"), ("(?P<step", "not a regular expression"),
    (r"loss (?P<loss>[\d.]+)", "needs a named group step"), (r"step (?P<step>\d+)", "needs a named group per metric"),
])
def test_a_bad_pattern_is_a_rules_error(tmp_path, pattern, words):
    rule = {"reader": "text_log", "glob": "*.log"}
    if pattern is not None:
        rule["pattern"] = pattern
    with pytest.raises(ConfigError, match=pytest.importorskip("re").escape(words)):
        rules(tmp_path, readers=[rule])
