"""Planning a run: the analysis views it needs (each computed once, a failure kept to the outputs
that need it), sliced per output file and fingerprinted, so the run draws only what is stale."""
from __future__ import annotations

import hashlib
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from analysis.views import PARTWISE, VIEWS, lineage
from runner.fingerprint import code_hash, config_hash, hash_frame
from runner.render import Job
from utils.config import Config
from utils.hashing import row_hashes

if TYPE_CHECKING:
    import numpy as np

    from plots.registry import OutputSpec
    from runner.partials import PartMemo


def split(spec: OutputSpec, view: pd.DataFrame) -> Iterable[tuple[dict, pd.DataFrame]]:
    """Slices of a view, one per output file; baseline rows go along with every group's slice."""
    if not spec.per:
        yield {}, view
        return
    is_base = view["group"] == "baseline" if "group" in view.columns else pd.Series(False, index=view.index)
    members = view[~is_base] if is_base.any() else view  # not copied when there is no baseline row
    if members.empty:
        return
    grouped = members.groupby(list(spec.per), sort=True)
    if grouped.ngroups == 1:  # one slice: the rows themselves, not a copy beside them (a log tree's 5 M)
        slices = [(tuple(members[k].iloc[0] for k in spec.per), members)]
    else:
        slices = grouped
    # the baseline rows taken once, then each slice's from them: not a pass over the whole view a slice
    baselines = view[is_base] if is_base.any() and "baseline_experiment" in view.columns else None
    for values, part in slices:
        values = values if isinstance(values, tuple) else (values,)
        keys = dict(zip(spec.per, (_plain(v) for v in values)))
        if baselines is not None:
            base = baselines[baselines["experiment"].isin(part["baseline_experiment"].unique())]
            for k, v in keys.items():
                if k != "group" and k in base.columns:
                    base = base[base[k] == v]
            part = pd.concat([base, part])
        yield keys, part


class _ViewFailed(Exception):
    pass


class ViewCache:
    """The analysis views of one run, each computed on first use and once (a view may need
    others). A view that raises is remembered with the reason: a bug in one view fails the
    outputs that need it, not the run."""

    def __init__(self, frame: pd.DataFrame, config: Config, gaps: Any,
                 records: pd.DataFrame | None = None, given: dict[str, pd.DataFrame] | None = None,
                 partials: PartMemo | None = None) -> None:
        """`frame`: the rows the numbers are computed from; `records`: every row loaded, for the
        `metrics` view (tables/metrics.csv), where conflicting values are kept and marked
        (utils/conflicts.py); by default `frame`. `given`: views computed elsewhere (the loader's
        per-file status table, `files`). `partials`: the partwise views' parts kept from the last
        run (runner/partials.py), reused where their source rows are unchanged."""
        self.frame, self.config, self.gaps, self.partials = frame, config, gaps, partials
        self.records = frame if records is None else records
        self.done: dict[str, pd.DataFrame] = dict(given or {})
        self.errors: dict[str, str] = {}
        self.released: set[str] = set()

    def computed(self, name: str) -> bool:
        """The view was computed this run (it may have been released since)."""
        return name in self.done or name in self.released

    def release(self, keep: set[str]) -> None:
        """Let go of every view but those in `keep` (the views still to be asked for and what those
        not computed yet are computed from, `analysis.views.still_needed`): a log tree's overview and
        curves are millions of rows each, not needed once their outputs are planned."""
        for name in [n for n in self.done if n not in keep]:
            del self.done[name]
            self.released.add(name)

    def get(self, name: str) -> pd.DataFrame | None:
        """The view, or None when it (or a view it needs) failed: see `errors[name]`."""
        try:
            return self._get(name)
        except _ViewFailed:
            return None

    def _get(self, name: str) -> pd.DataFrame:
        if name in self.errors:
            raise _ViewFailed(name)
        if name not in self.done:
            if name in self.released:
                raise RuntimeError(f"view {name!r} was released, then asked for: analysis/views.py SOURCES "
                                   "does not list it among the sources of the view asking")
            try:
                if self.partials is not None and name in PARTWISE:
                    self.done[name] = self.partials.view(name, PARTWISE[name], self.config, self._get)
                else:
                    source = self.records if name == "metrics" else self.frame
                    self.done[name] = VIEWS[name](source, self.config, self.gaps, self._get)
            except _ViewFailed as exc:
                self.errors[name] = f"view {name!r} needs view {exc.args[0]!r}: {self.errors[exc.args[0]]}"
                raise _ViewFailed(name) from None
            except Exception as exc:  # noqa: BLE001 - reported as the outputs' failure
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                self.errors[name] = (f"view {name!r}: {type(exc).__name__}: {exc} (line {tb.lineno} of "
                                     f"{Path(tb.filename).name})")
                raise _ViewFailed(name) from None
        return self.done[name]


FIRST_VIEWS = ("scores", "metrics", "files")  # their tables are what a watcher opens first


def view_order(names: set[str]) -> list[str]:
    """Views in the order a run computes them: the scores, the records and the files first (their
    tables go to the workers while the rest is computed: a watcher's scores.csv waits for nothing
    else), then those built from fewer others first."""
    def key(name: str) -> tuple[int, int, str]:
        first = FIRST_VIEWS.index(name) if name in FIRST_VIEWS else len(FIRST_VIEWS)
        return first, len(lineage(name)), name
    return sorted(names, key=key)


def render_priority(kind: str, seconds: Any, rows: int = 0) -> tuple[bool, float, int]:
    """Sort key of an output waiting for a worker (lowest first), from its kind, the seconds it
    took last time (None when new: counted as slow) and its rows. Tables first, the quickest first
    (what a watcher opens first: scores.csv does not wait for the LaTeX tables); then the figures,
    the slowest first, so the pool finishes evenly; among new figures, the one of most rows first
    (a log tree's overview of 5 million rows draws for seconds: it should not wait behind a dot plot)."""
    seconds = float(seconds) if isinstance(seconds, (int, float)) else 1e9
    table = kind == "table"
    return not table, seconds if table else -seconds, 0 if table else -rows


def _plain(value: Any) -> Any:
    """numpy scalars -> Python ones, so slice keys go into JSON and file names cleanly."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def plan_jobs(specs: Iterable[OutputSpec], views: dict[str, pd.DataFrame], config: Config, rules: Config,
              code_hashes: dict[str, str], hashes: dict[str, np.ndarray | None] | None = None) -> list[Job]:
    """One fingerprinted job per output file of `specs` whose view is in `views`. Outputs that split
    the same view the same way share the slices (and their hashes): they are computed once.
    `config` is the rules plus the inferred tasks, `rules` the rules as given. `hashes`: row hashes
    of whole views, by name: taken where given, and filled in where None and computed here."""
    hashes = {} if hashes is None else hashes
    jobs = []
    cfg_hash = config_hash(config)
    inferred = {t: i for t, i in config.tasks.items() if t not in rules.tasks}
    slices: dict[tuple[str, tuple[str, ...]], list[tuple[dict, pd.DataFrame, str, np.ndarray | None]]] = {}
    wholes: dict[str, np.ndarray] = {}

    def whole(name: str) -> np.ndarray:
        """The row hashes of view `name`, once however many ways it is split: a row's hash is of its
        values alone, so a slice's are these at its rows (hashing each slice instead hashes the
        label columns' strings once a slice, and the baseline rows again for each: ~0.35 s instead
        of ~0.09 for the sweep's 101,500 per-seed points in 10 slices)."""
        if name not in wholes:
            given = hashes.get(name)
            wholes[name] = given if given is not None and len(given) == len(views[name]) else row_hashes(views[name])
            if name in hashes:
                hashes[name] = wholes[name]
        return wholes[name]

    for spec in specs:
        if spec.needs not in views:
            continue
        code = code_hashes.get(spec.name) or code_hash(spec)
        key = (spec.needs, spec.per)
        if key not in slices:
            slices[key] = []
            view = views[spec.needs]
            for keys, part in split(spec, view):  # the rows' hashes are kept: blocked tables name blocks by them
                if not len(part):
                    rows = None
                elif part is view:
                    rows = whole(spec.needs)
                elif _positional(view):  # a slice's index is its rows' positions in the view
                    rows = whole(spec.needs)[part.index.to_numpy()]
                else:
                    rows = row_hashes(part)
                slices[key].append((keys, part, hash_frame(part, rows), rows))
        salt = f"{spec.name}|{code}|{cfg_hash}"
        for keys, part, data_hash, rows in slices[key]:
            if inferred and "task" in part.columns:  # inferred tasks (label, unit, scale) are rules too
                data_hash += repr([inferred.get(t) for t in sorted(map(str, part["task"].unique()))])
            for part_keys, rel in jobs_of_slice(spec, keys, part, config):
                which = f"|part {part_keys['part']} of {part_keys['parts']}" if "part" in part_keys else ""
                fp = hashlib.blake2b(f"{salt}|{data_hash}{which}".encode(), digest_size=16).hexdigest()
                jobs.append(Job(spec.name, rel, part_keys, part, fp, salt, rows if spec.blocks_by else None))
    return jobs


def _positional(view: pd.DataFrame) -> bool:
    """Is the view's index its row positions (0, 1, ...)?"""
    index = view.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def jobs_of_slice(spec: OutputSpec, keys: dict, part: pd.DataFrame, config: Config) -> list[tuple[dict, str]]:
    """(keys, file) of each output one slice makes: one, or for a figure that would not fit a page
    (`spec.parts`) one per part, `<file>_1.png`, `<file>_2.png`, ... with keys `part` and `parts`."""
    rel = spec.path_for(keys, config.plot_format)
    n = spec.parts(part, config) if spec.parts is not None and spec.kind == "figure" else 1
    if n <= 1:
        return [(dict(keys), rel)]
    stem, dot, ext = rel.rpartition(".")
    return [({**keys, "part": i, "parts": n}, f"{stem}_{i}{dot}{ext}") for i in range(1, n + 1)]
