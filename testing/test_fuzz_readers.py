"""Mangled evaluation files (hypothesis): cut, empty, byte-order marks, wrong types, nested
garbage, duplicate keys, huge and non-finite numbers, non-ASCII keys, random bytes. A run never
raises; every mangled file is either read or named in the report; no output fails, and every
figure that does not depend on a mangled file is still drawn."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testing_helpers import REPO
from utils.config import load_config
from utils.loading import load
from runner.pipeline import Pipeline
from runner.report import Options
from utils.synthetic import write_tree

ONLY = ("comparison", "scores_csv")
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "1" + "0" * 400, "-0"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A small tree, rules at a low dpi, and the outputs a clean run of it writes."""
    base = tmp_path_factory.mktemp("fuzz_template")
    write_tree(base / "exp", seeds=1, ft1=2, ft2=2, checkpoints=2)
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw["plots"] = {"modules": [], "format": "png", "dpi": 30}
    (base / "rules.yaml").write_text(yaml.safe_dump(raw))
    config = load_config(base / "rules.yaml")
    report, _ = _run(config, base / "exp", base / "out")
    assert not report.failed and not report.problems
    return base, config, set(report.rendered)


def _run(config, data: Path, out: Path):
    pipeline = Pipeline(config, Options(data=data, out=out, only=ONLY, jobs=1, progress=False))
    try:
        return pipeline.run(), pipeline.last_load
    finally:
        pipeline.close()


def _garbage(depth: int) -> object:
    value: object = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


VALUES = st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                   st.integers(0, 40).map(_garbage))
NON_ASCII = st.text(st.characters(min_codepoint=0x80, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
                    min_size=1, max_size=4)


@st.composite
def mangled(draw, text: str) -> bytes:
    """The file's text mangled one way (or two), as bytes."""
    data = json.loads(text)
    ck = draw(st.sampled_from(sorted(data)))
    metric = draw(st.sampled_from(sorted(data[ck])))
    how = draw(st.sampled_from(["cut", "empty", "bom", "type", "top", "nested", "deep", "duplicate",
                                "number", "key", "bytes", "utf16"]))
    if how == "cut":
        return text.encode()[: draw(st.integers(0, len(text) - 1))]
    if how == "empty":
        return draw(st.sampled_from([b"", b" ", b"\n\n"]))
    if how == "bom":
        return b"\xef\xbb\xbf" + draw(mangled(text)) if draw(st.booleans()) else b"\xef\xbb\xbf" + text.encode()
    if how == "type":
        data[ck][metric] = draw(VALUES)
    elif how == "top":
        data = draw(st.one_of(VALUES, st.just({ck: draw(VALUES)})))
    elif how == "nested":
        data[ck] = draw(st.integers(1, 60).map(_garbage))
    elif how == "deep":
        n = draw(st.sampled_from([2000, 100_000]))
        return ("{" + f'"{ck}": ' + "[" * n + "]" * n + "}").encode()
    elif how == "duplicate":
        again = dict(data[ck], **{metric: draw(st.floats(allow_nan=True, allow_infinity=True))})
        return ("{" + f'"{ck}": {json.dumps(again)}, ' + text.lstrip()[1:]).encode()
    elif how == "number":
        spots = list(NUMBER.finditer(text))
        for m in draw(st.lists(st.sampled_from(spots), min_size=1, max_size=4, unique_by=lambda m: m.start())):
            text = text[: m.start()] + draw(st.sampled_from(ODD_NUMBERS)) + " " * (m.end() - m.start()) + text[m.end():]
        return text.encode()
    elif how == "key":
        new = draw(NON_ASCII)
        if draw(st.booleans()):
            data[ck][f"eval_{new}_metric_mean"] = data[ck].pop(metric)
        else:  # non-ASCII digits in the step, or a key the reader does not know
            data[draw(st.sampled_from(["checkpoint-１２", f"checkpoint-{new}", new]))] = data.pop(ck)
    elif how == "bytes":
        return draw(st.binary(max_size=64))
    elif how == "utf16":
        return text.encode("utf-16")
    return json.dumps(data).encode()


def _depends(output: str, rel: str, config) -> bool:
    """Does output (`comparison/<group>_<condition>.png`, a table) use the evaluation file at `rel`?"""
    if not output.startswith("comparison/"):
        return True  # the tables hold every file
    experiment, folder = rel.split("/")[0], rel.split("/")[2]
    condition, _ = config.condition_for_folder(folder)
    group, cond = Path(output).stem.rsplit("_", 1)
    info = config.parse_experiment(experiment)
    if info.group == "baseline":
        return True  # its standard value is also the reference of every gap-closing score
    return cond == condition and info.group == group


def _examples(default: int) -> int:
    """FUZZ_EXAMPLES=500 for a deeper search than the suite's quick, derandomized one."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


@settings(max_examples=_examples(150), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_the_loader_reads_or_names_every_mangled_file(clean, data):
    """Loader only (fast, many examples): no exception, the file read (finite numbers or missing
    ones) or named with a reason, and the good file beside it read."""
    template, config, _ = clean
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp)
        good = template / "exp" / "pt1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
        for exp in ("pt1", "pt1_ft1-1"):
            dest = tree / exp / "evals" / "angle" / "eval_data" / "evaluation_results.json"
            dest.parent.mkdir(parents=True)
            shutil.copyfile(good, dest)
        bad = tree / "pt1_ft1-1" / "evals" / "angle" / "eval_data" / "evaluation_results.json"
        bad.write_bytes(data.draw(mangled(good.read_text()), label="content"))
        result = load(tree, config)
        frame = result.frame
        assert set(frame["source"]) >= {"pt1/evals/angle/eval_data/evaluation_results.json"}
        problems = [str(p) for p in result.problems]
        read = "pt1_ft1-1/evals/angle/eval_data/evaluation_results.json" in set(frame["source"])
        assert read != bool(problems), problems
        assert all(p.startswith(f"{bad}: ") and len(p) > len(f"{bad}: ") for p in problems)
        values = frame["value"].to_numpy(dtype=float)
        assert not np.isinf(values).any()  # non-finite numbers are missing values, never inf


@settings(max_examples=_examples(8), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_mangled_files_are_read_or_named_and_the_rest_is_drawn(clean, tmp_path_factory, data):
    template, config, clean_outputs = clean
    base = tmp_path_factory.mktemp("fuzz")
    tree = base / "exp"
    shutil.copytree(template / "exp", tree)
    shutil.copytree(template / "out", base / "out")  # warm: only what a mangled file touches is redrawn
    manifest = json.loads((base / "out" / ".cache" / "manifest.json").read_text())["outputs"]
    files = sorted(tree.rglob("evaluation_results.json"))
    picked = data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True), label="files")
    for path in picked:
        path.write_bytes(data.draw(mangled(path.read_text()), label=path.relative_to(tree).as_posix()))

    report, loaded = _run(config, tree, base / "out")  # raises nothing

    sources = set(loaded.frame["source"])
    named = {str(p) for p in report.problem_paths}
    for path in picked:
        rel = path.relative_to(tree).as_posix()
        assert rel in sources or str(path) in named, rel
        assert str(path) not in named or any(str(path) in p for p in report.problems)
    assert report.failed == []
    mangled_rels = [p.relative_to(tree).as_posix() for p in picked]
    untouched = {o for o in clean_outputs if not any(_depends(o, rel, config) for rel in mangled_rels)}
    after = json.loads((base / "out" / ".cache" / "manifest.json").read_text())["outputs"]
    for rel in untouched:  # on disk, and drawn from the same data as in the clean run
        assert (base / "out" / rel).stat().st_size > 0 and after[rel]["fingerprint"] == manifest[rel]["fingerprint"]
    assert {"tables/scores.csv"} <= set(after) and (base / "out" / "index.html").is_file()
