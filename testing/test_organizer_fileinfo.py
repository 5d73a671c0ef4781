"""Name normalisation, import/def detection and figure references in scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from organizer.fileinfo import (
    FileInfo,
    figure_literal_regex,
    figure_ref_from_literal,
    normalize_stem,
    split_extension,
)

EXTS = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def _file(tmp_path: Path, name: str, data: bytes | str) -> FileInfo:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return FileInfo(name, name, str(p), True, False)


@pytest.mark.parametrize(("name", "stem"), [
    ("plot_ft1_heatmap.py", "plot_ft1_heatmap"),
    ("plotFT1-Heatmap v2.py", "plot_ft1_heatmap_v2"),
    ("Analyse  Clusters.ipynb", "analyse_clusters"),
    ("ümlaut_städte.csv", "ümlaut_städte"),
    ("noext", "noext"),
])
def test_normalize_stem(name: str, stem: str) -> None:
    assert normalize_stem(name) == stem


def test_split_extension() -> None:
    assert split_extension("a.b.png") == ("a.b", ".png")
    assert split_extension("noext") == ("noext", "")
    assert split_extension(".hidden") == (".hidden", "")


@pytest.mark.parametrize(("literal", "name", "hit"), [
    ("ft1_performance_heatmap.png", "ft1_performance_heatmap.png", True),
    ("ft1_performance_heatmap.png", "ft1_performance_heatmap.pdf", False),
    ("figs/out/ft2_scores.pdf", "ft2_scores.pdf", True),
    ("{out_dir}/ft2_{task}_scores.svg", "ft2_distance_scores.svg", True),
    ("{out_dir}/ft2_{task}_scores.svg", "ft3_distance_scores.svg", False),
    ("loss_%d.jpg", "loss_10.jpg", True),
    ("loss_%(step)05d.jpg", "loss_00010.jpg", True),
    ("fig_{}.jpeg", "fig_a.jpeg", True),
    ("HEAT.PNG", "HEAT.PNG", True),
])
def test_figure_refs(literal: str, name: str, hit: bool) -> None:
    ref = figure_ref_from_literal(literal, EXTS)
    assert ref is not None
    assert ref.matches(name) is hit


@pytest.mark.parametrize("literal", ["{name}.png", "{a}_{b}.png", "%s.png", ".png", "x.csv", "*.png"])
def test_too_vague_or_not_figures(literal: str) -> None:
    assert figure_ref_from_literal(literal, EXTS) is None


def test_figure_refs_found_in_python_and_notebooks(tmp_path: Path) -> None:
    script = _file(tmp_path, "plot_a.py", (
        "import matplotlib.pyplot as plt\n"
        "plt.savefig('a_heatmap.png')\n"
        "fig.savefig(f\"{out}/b_{task}_bars.pdf\", dpi=300)\n"
        "x = 'not_a_figure.csv'; y = \"c_curve.svg\"\n"
    ))
    refs = script.figure_refs(figure_literal_regex(EXTS), EXTS)
    assert [r.text for r in refs] == ["a_heatmap.png", "b_*_bars.pdf", "c_curve.svg"]
    nb = _file(tmp_path, "nb.ipynb", '{"source": ["plt.savefig(\\"nb_fig.png\\")\\n"]}')
    assert [r.text for r in nb.figure_refs(figure_literal_regex(EXTS), EXTS)] == ["nb_fig.png"]


def test_imports_and_definitions(tmp_path: Path) -> None:
    f = _file(tmp_path, "m.py", (
        "import os, sys as system\n"
        "from matplotlib import pyplot as plt, cm\n"
        "    import seaborn.objects\n"
        "async def test_async():\n"
        "    pass\n"
        "class TestThing:\n"
        "    def helper(self):\n"
        "        pass\n"
    ))
    assert {"os", "sys", "matplotlib", "matplotlib.pyplot", "matplotlib.cm", "seaborn.objects"} <= f.imported_modules
    assert f.imports_any(("seaborn",)) and f.imports_any(("matplotlib.pyplot",))
    assert not f.imports_any(("sea",))
    assert f.defines_any(("test_",)) and f.defines_any(("Test",)) and f.defines_any(("helper",))
    assert not f.defines_any(("main",))


def test_binary_and_symlinks_have_no_text(tmp_path: Path) -> None:
    assert _file(tmp_path, "x.bin", b"\x00\x01import matplotlib\n").text is None
    link = tmp_path / "l.py"
    link.symlink_to(tmp_path / "x.bin")
    assert FileInfo("l.py", "l.py", str(link), True, False).text is None  # O_NOFOLLOW refuses the link
    assert _file(tmp_path, "u.py", "s = 'é'\n".encode("latin-1")).text is not None
