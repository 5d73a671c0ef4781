"""Git integration: tracked files move with ``git mv`` so history follows them.

One ``git ls-files -z`` call finds every tracked path under the tidied folder;
moves are batched (one ``git mv -k`` per destination folder and chunk) and the
caller checks each file afterwards, so a file git refused is reported, not lost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .mover import split_rel

_CHUNK = 500


@dataclass(frozen=True)
class GitRepo:
    """A git work tree containing the tidied folder; paths are relative to that folder."""

    cwd: Path
    git: str

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        env = dict(os.environ)
        env.setdefault("GIT_OPTIONAL_LOCKS", "0")
        env["LC_ALL"] = "C"
        return subprocess.run([self.git, "-C", str(self.cwd), *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)

    def tracked(self) -> frozenset[str]:
        """Tracked paths below the folder, relative to it (one ``git ls-files -z`` call)."""
        proc = self._run("ls-files", "-z", "--", ".")
        if proc.returncode != 0:
            return frozenset()
        return frozenset(os.fsdecode(p) for p in proc.stdout.split(b"\0") if p)

    def mv(self, pairs: list[tuple[str, str]]) -> list[str]:
        """``git mv -k`` each ``(src, dst)``; returns git's error lines (the caller verifies)."""
        errors: list[str] = []
        same_name: dict[str, list[str]] = {}
        renamed: list[tuple[str, str]] = []
        for src, dst in pairs:
            dd, dn = split_rel(dst)
            if split_rel(src)[1] == dn:
                same_name.setdefault(dd, []).append(src)
            else:
                renamed.append((src, dst))
        for dest_dir, sources in same_name.items():
            for i in range(0, len(sources), _CHUNK):
                chunk = sources[i:i + _CHUNK]
                target = (dest_dir or ".") + "/"
                if len(chunk) == 1:
                    target = "/".join(p for p in (dest_dir, split_rel(chunk[0])[1]) if p)
                proc = self._run("mv", "-k", "--", *chunk, target)
                if proc.returncode != 0:
                    errors.append(os.fsdecode(proc.stderr).strip())
        for src, dst in renamed:
            proc = self._run("mv", "-k", "--", src, dst)
            if proc.returncode != 0:
                errors.append(os.fsdecode(proc.stderr).strip())
        return [e for e in errors if e]


def find_repo(folder: Path) -> GitRepo | None:
    """The git work tree ``folder`` is in, or ``None`` (also when git is not installed)."""
    git = shutil.which("git")
    if git is None:
        return None
    repo = GitRepo(cwd=folder, git=git)
    try:
        proc = repo._run("rev-parse", "--is-inside-work-tree")
    except OSError:
        return None
    if proc.returncode != 0 or proc.stdout.strip() != b"true":
        return None
    return repo
