"""The output registry: plot modules and tables declare what they need and what they write.

An output is a decorated function that receives one slice of an analysis view (a DataFrame)
and an `OutputContext`; a figure returns a matplotlib Figure, a table returns text. The runner
splits the view by the `per` columns, so one function yields one file per group, condition, ...
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from utils.config import Config, TaskInfo
from utils.errors import ConfigError

from analysis.figure_data import conditions_in, tasks_in
from analysis.views import VIEWS


@dataclass(frozen=True)
class OutputSpec:
    name: str
    func: Callable[..., Any]
    kind: str  # "figure" or "table"
    needs: str  # which analysis view the function receives (see VIEWS)
    per: tuple[str, ...]  # one output file per distinct value of these view columns
    writes: str  # path template under the output folder, e.g. "comparison/{group}_{condition}"
    title: str
    description: str
    module: str
    blocks_by: str | None = None  # a table written in blocks of rows, one per run of this column's values
    # A figure that may not fit one page: parts(slice, config) -> how many figures its rows are split
    # into (files `<name>_1`, `<name>_2`, ...; one figure keeps its name); keys "part" and "parts" tell each.
    parts: Callable[[pd.DataFrame, Config], int] | None = None

    def path_for(self, keys: dict[str, Any], fmt: str) -> str:
        ext = fmt if self.kind == "figure" else ""
        rel = self.writes.format(**{k: _slug(v) for k, v in keys.items()})
        return f"{rel}.{ext}" if ext else rel


@dataclass
class OutputContext:
    """What a plot module may know besides its data: the rules and which slice it draws."""

    config: Config
    keys: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    def task(self, name: str) -> TaskInfo:
        return self.config.tasks[name]

    def tasks_in(self, frame: pd.DataFrame) -> list[str]:
        """Tasks present in the data, in the order rules.yaml lists them."""
        return tasks_in(frame, self.config)

    def conditions_in(self, frame: pd.DataFrame) -> list[str]:
        """Conditions present in the data, in the order rules.yaml lists them."""
        return conditions_in(frame, self.config)

    @property
    def group_label(self) -> str:
        g = self.keys.get("group", "")
        return f"{g}: {self.config.group_label(g)}" if g in self.config.groups else str(g)

    @property
    def condition_label(self) -> str:
        return self.config.condition_label(self.keys.get("condition", ""))


_REGISTRY: dict[str, OutputSpec] = {}


def _register(kind: str, name: str, needs: str, per: tuple[str, ...], writes: str | None,
              title: str, description: str, blocks_by: str | None = None,
              parts: Callable[[pd.DataFrame, Config], int] | None = None) -> Callable:
    if needs not in VIEWS:
        raise ValueError(f"{name}: needs must be one of {sorted(VIEWS)}, got {needs!r}")

    def deco(fn: Callable) -> Callable:
        template = writes or "/".join([name] + ["{" + k + "}" for k in per] if per else [name])
        if name in _REGISTRY and _REGISTRY[name].func.__module__ != fn.__module__:
            raise ConfigError(f"output name {name!r} registered twice "
                              f"({_REGISTRY[name].module} and {fn.__module__})")
        _REGISTRY[name] = OutputSpec(name, fn, kind, needs, tuple(per), template, title,
                                     description or _first_line(fn.__doc__), fn.__module__, blocks_by, parts)
        return fn
    return deco


def figure(name: str, *, needs: str = "scores", per: tuple[str, ...] = ("group",), writes: str | None = None,
           title: str = "", description: str = "",
           parts: Callable[[pd.DataFrame, Config], int] | None = None) -> Callable:
    """Register a figure: `fn(data, ctx) -> matplotlib.figure.Figure`, one file per `per` slice; with
    `parts`, a slice whose figure would not fit a page is drawn as `parts(slice, config)` figures, each
    given the whole slice and `ctx.keys["part"]` (1, 2, ...) of `ctx.keys["parts"]`."""
    return _register("figure", name, needs, per, writes, title, description, parts=parts)


def table(name: str, *, needs: str = "scores", writes: str, title: str = "", description: str = "",
          blocks_by: str | None = None) -> Callable:
    """Register a table: `fn(data, ctx) -> str`, written to `writes` (a path with its extension).

    `blocks_by` (a column of the view): the text of the whole view is the header plus the text of
    each run of rows with the same value (a CSV is); a rebuild reformats only the runs whose rows
    changed (see runner/blocks.py)."""
    return _register("table", name, needs, (), writes, title, description, blocks_by)


def discover(extra_modules: tuple[Path, ...] = ()) -> dict[str, OutputSpec]:
    """Import every module in `plots/` and the user's extra module files; return the registry."""
    import plots
    for mod in pkgutil.iter_modules(plots.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"plots.{mod.name}")
    for path in extra_modules:
        modname = f"user_plots_{hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()}_{path.stem}"
        if modname in sys.modules:
            continue
        if not path.is_file():
            raise ConfigError(f"plots.modules: {path}: no such file")
        spec = importlib.util.spec_from_file_location(modname, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[modname] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[modname]
            raise ConfigError(f"plots.modules: {path}: cannot import: {type(exc).__name__}: {exc}") from None
    return dict(_REGISTRY)


def _first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def _slug(value: Any) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(value))
