"""Learn a destination's own subfolders: a loose file joins the subfolder its neighbours sit in.

When a rule sends ``analyze_atlantis_probe.py`` to ``analysis/`` and ``analysis/`` already
has ``atlantis/`` (holding ``atlantis_training_curve.py``) and ``city_id/``, the file
goes to ``analysis/atlantis/``: it shares the word ``atlantis`` with the files there
and with no other subfolder.  Words are the lower-case name tokens keyword rules use
(``plotFT1-Heatmap`` -> ``plot ft1 heatmap``), plurals folded (``gradients`` ->
``gradient``), generic words (``plot``, ``test``, ``analyze``, numbers, ``v2``) ignored.
A shared word weighs ``1 / (number of places whose files have it)``, so a word found in
one subfolder only is worth 1 and a word everywhere is worth little.  The file joins the
best place when it scores at least 1 and at least 1.5x the runner-up; the files at the
top of the destination are a place too (a file that resembles them stays there).
Otherwise the rule's folder decides.  Each destination is listed once per plan.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .fileinfo import normalize_stem

MIN_SCORE = 1.0
MARGIN = 1.5
#: Words that say what a script does, not what it is about.
GENERIC_WORDS = frozenset("""
a an and the of by in on to for with from vs per at
analyze analyse analysis analyses plot plots plotting test tests testing check checks make generate gen
compute calc run runs get new old final tmp temp copy draft script scripts main misc notebook nb
util utils helper helpers data result results output outputs file files fig figure figures py
""".split())
_VERSION_RE = re.compile(r"^(?:v?\d+|\d+[a-z]?)$")


def name_words(name: str) -> frozenset[str]:
    """The words of a file name that say what it is about (see the module docstring)."""
    out = set()
    for tok in normalize_stem(name).split("_"):
        if len(tok) < 2 or tok in GENERIC_WORDS or _VERSION_RE.match(tok):
            continue
        if len(tok) > 3 and tok.endswith("s") and not tok.endswith(("ss", "is", "us")):
            tok = tok[:-1]
        out.add(tok)
    return frozenset(out)


@dataclass(frozen=True)
class Placement:
    """Where a file goes inside its rule's destination, and the neighbour that decided it."""

    folder: str
    neighbour: str   # path of the deciding file, relative to the destination
    words: tuple[str, ...]


class _Places:
    """The files of one destination, grouped by place ("" = its top, else a first-level subfolder)."""

    def __init__(self, root: Path, destination: str) -> None:
        self.destination = destination
        self.files: dict[str, list[str]] = {}
        self.word_places: dict[str, set[str]] = defaultdict(set)
        self.word_files: dict[tuple[str, str], list[str]] = defaultdict(list)
        try:
            entries = list(os.scandir(root / destination))
        except OSError:
            return
        subdirs = []
        for e in entries:
            if e.name.startswith(".") or e.name == "__pycache__":
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    subdirs.append(e)
                else:
                    self._add("", e.name)
            except OSError:
                continue
        if not subdirs:
            self.files.clear()
            self.word_places.clear()
            return
        for d in subdirs:
            try:
                names = [n for n in os.listdir(d.path) if not n.startswith(".")]
            except OSError:
                continue
            self.files.setdefault(d.name, [])
            for n in names:
                self._add(d.name, n)

    def _add(self, place: str, name: str) -> None:
        self.files.setdefault(place, []).append(name)
        for w in name_words(name):
            self.word_places[w].add(place)
            self.word_files[(w, place)].append(name)

    def place(self, name: str) -> Placement | None:
        words = name_words(name)
        scores: dict[str, float] = defaultdict(float)
        for w in words:
            places = self.word_places.get(w)
            if places:
                weight = 1.0 / len(places)
                for p in places:
                    scores[p] += weight
        if not scores:
            return None
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        best, score = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if best == "" or score < MIN_SCORE or score < MARGIN * runner_up:
            return None
        shared = sorted(w for w in words if best in self.word_places.get(w, ()))
        # The neighbour: the file in that subfolder sharing the most weight with the name.
        weight_of: dict[str, float] = defaultdict(float)
        for w in shared:
            for f in self.word_files[(w, best)]:
                weight_of[f] += 1.0 / len(self.word_places[w])
        neighbour = min(weight_of, key=lambda f: (-weight_of[f], f))
        return Placement(f"{self.destination}/{best}", f"{best}/{neighbour}", tuple(shared))


class Layout:
    """Per plan: the learned places of each destination, listed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._places: dict[str, _Places] = {}

    def place(self, destination: str, name: str) -> Placement | None:
        """The subfolder of ``destination`` whose files ``name`` clearly resembles, else ``None``."""
        places = self._places.get(destination)
        if places is None:
            places = self._places[destination] = _Places(self.root, destination)
        if not places.files:
            return None
        return places.place(name)
