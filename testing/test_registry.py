"""The output registry: built-in modules are found by scanning plots/, user modules via rules.yaml."""
import textwrap

import pandas as pd
import pytest

from analysis.views import VIEWS
from plots.registry import OutputSpec, discover
from utils.errors import ConfigError
from runner.planning import split

BUILT_IN = {"comparison", "metrics_csv", "scores_csv", "raw_metrics_tex"}


def test_scanning_plots_finds_the_built_in_outputs():
    registry = discover()
    assert BUILT_IN <= set(registry)
    spec = registry["comparison"]
    assert isinstance(spec, OutputSpec) and spec.kind == "figure" and spec.needs in VIEWS
    assert spec.path_for({"group": "ft1", "condition": "atlantis"}, "png") == "comparison/ft1_atlantis.png"
    assert registry["scores_csv"].path_for({}, "png") == "tables/scores.csv"


def user_module(tmp_path, name="my_fig", body="return plt.figure()"):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(f"""
        import matplotlib.pyplot as plt
        from plots.registry import figure

        @figure("{name}", needs="scores", per=("group",), description="A user's figure.")
        def draw(data, ctx):
            {body}
    """))
    return path


def test_a_user_module_is_one_file_away(tmp_path):
    registry = discover((user_module(tmp_path),))
    assert registry["my_fig"].description == "A user's figure."
    assert registry["my_fig"].writes == "my_fig/{group}"


def test_a_broken_user_module_is_a_config_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import nonexistent_package_xyz\n")
    with pytest.raises(ConfigError, match="broken.py: cannot import"):
        discover((path,))
    with pytest.raises(ConfigError, match="no such file"):
        discover((tmp_path / "absent.py",))


def test_split_gives_each_group_its_baseline_rows():
    view = pd.DataFrame({
        "experiment": ["pt1", "pt1_seed2", "pt1_ft1-1", "pt1_seed2_ft1-1", "pt1_ft2-1"],
        "group": ["baseline", "baseline", "ft1", "ft1", "ft2"],
        "baseline_experiment": ["pt1", "pt1_seed2", "pt1", "pt1_seed2", "pt1"],
        "condition": ["standard"] * 5,
    })
    spec = discover()["comparison"]
    parts = {keys["group"]: part for keys, part in split(spec, view)}
    assert sorted(parts) == ["ft1", "ft2"]
    assert sorted(parts["ft1"]["experiment"]) == ["pt1", "pt1_ft1-1", "pt1_seed2", "pt1_seed2_ft1-1"]
    assert sorted(parts["ft2"]["experiment"]) == ["pt1", "pt1_ft2-1"]
