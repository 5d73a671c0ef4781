"""Inside a git work tree, tracked files move with ``git mv`` (and back on undo)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from organizer import load_default_rules, run_tidy, run_undo
from organizer.gitops import find_repo
from organizer_helpers import make_tree, snapshot

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


def git(repo: Path, *args: str) -> str:
    import os
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    make_tree(repo / "scratch", {
        "plot_ft1_heatmap.py": "plt.savefig('ft1_performance_heatmap.png')\n",
        "ft1_performance_heatmap.png": b"\x89PNG",
        "test_gradient_flow.py": "def test_x(): pass\n",
        "analyze_clusters_by_city_id.py": "v1\n",
        "test_weird name [x] *.py": "def test_odd(): pass\n",
        "plots/plot_ft1_heatmap.py": "tracked older version\n",
        "notes.txt": "tracked, unmatched\n",
    })
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "seed")
    # Untracked and modified files too.
    (repo / "scratch/generate_exp4_cka_configs.py").write_text("untracked\n")
    (repo / "scratch/analyze_clusters_by_city_id.py").write_text("v2, not staged\n")
    return repo


def test_find_repo(repo: Path, tmp_path: Path) -> None:
    found = find_repo(repo / "scratch")
    assert found is not None
    assert "plot_ft1_heatmap.py" in found.tracked() and "plots/plot_ft1_heatmap.py" in found.tracked()
    assert "generate_exp4_cka_configs.py" not in found.tracked()
    outside = tmp_path / "not_a_repo"
    outside.mkdir()
    assert find_repo(outside) is None


def test_tracked_files_move_with_git_mv_and_back(repo: Path) -> None:
    scratch = repo / "scratch"
    status_before = git(repo, "status", "--porcelain")
    before = snapshot(scratch)
    result = run_tidy(scratch, load_default_rules())
    assert result.ok, result.failed
    tracked_now = set(git(repo, "ls-files").split("\n"))
    for path in ["scratch/plots/plot_ft1_heatmap (2).py", "scratch/plots/ft1_performance_heatmap.png",
                 "scratch/testing/test_gradient_flow.py", "scratch/analysis/analyze_clusters_by_city_id.py",
                 "scratch/testing/test_weird name [x] *.py"]:
        assert path in tracked_now, path
    assert "scratch/test_gradient_flow.py" not in tracked_now
    assert "scratch/utils/generate_exp4_cka_configs.py" not in tracked_now  # untracked stays untracked
    assert (scratch / "utils/generate_exp4_cka_configs.py").read_text() == "untracked\n"
    # The unstaged edit moved with the file and is still unstaged.
    assert (scratch / "analysis/analyze_clusters_by_city_id.py").read_text() == "v2, not staged\n"
    staged = git(repo, "diff", "--cached", "--name-status", "-M").splitlines()
    assert "R100\tscratch/test_gradient_flow.py\tscratch/testing/test_gradient_flow.py" in staged
    journal = next((scratch / ".organizer/journal").glob("*.jsonl"))
    recs = [json.loads(x) for x in journal.read_text().splitlines()]
    git_flags = {r["src"]: r["git"] for r in recs if r["t"] == "move"}
    assert git_flags["test_gradient_flow.py"] is True
    assert git_flags["generate_exp4_cka_configs.py"] is False

    undo = run_undo(scratch)
    assert undo.ok, undo.conflicts
    assert git(repo, "status", "--porcelain") == status_before
    assert snapshot(scratch) == before


def test_history_follows_the_file(repo: Path) -> None:
    scratch = repo / "scratch"
    run_tidy(scratch, load_default_rules())
    git(repo, "commit", "-q", "-m", "tidy")
    log = git(repo, "log", "--follow", "--format=%s", "--", "scratch/testing/test_gradient_flow.py").split()
    assert log == ["tidy", "seed"]


def test_git_refusing_a_move_is_reported_not_lost(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = repo / "scratch"
    from organizer import gitops

    monkeypatch.setattr(gitops.GitRepo, "mv", lambda self, pairs: ["fatal: simulated refusal"])
    result = run_tidy(scratch, load_default_rules())
    failed = dict(result.failed)
    assert "git mv refused: fatal: simulated refusal" in failed["test_gradient_flow.py"]
    assert (scratch / "test_gradient_flow.py").exists()
    assert (scratch / "utils/generate_exp4_cka_configs.py").exists()  # untracked files still moved
