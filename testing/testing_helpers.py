"""Helpers shared by the runner's tests (importable: pytest puts testing/ on sys.path)."""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_eval(root: Path, experiment: str, folder: str, checkpoints: dict | str) -> Path:
    """Write one evaluation_results.json in the real layout (a str is written verbatim)."""
    path = root / experiment / "evals" / folder / "eval_data" / "evaluation_results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(checkpoints if isinstance(checkpoints, str) else json.dumps(checkpoints))
    return path


def write_trainer_run(folder: Path, accuracies: list[float], extra: dict[str, list[float]] | None = None) -> Path:
    """A Trainer output dir: trainer_state.json with one evaluation per 100 steps (eval_accuracy, eval_loss
    = 1 - accuracy, and any `extra` metric lists of the same length)."""
    folder.mkdir(parents=True, exist_ok=True)
    history = [{"epoch": i + 1.0, "eval_accuracy": a, "eval_loss": 1 - a, "eval_runtime": 2.0, "step": 100 * (i + 1),
                **{f"eval_{k}": v[i] for k, v in (extra or {}).items()}}
               for i, a in enumerate(accuracies)]
    path = folder / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 100 * len(accuracies), "log_history": history}))
    return path


def inferred_config(root: Path, config, width: float | None = None):
    """The rules with what a zero-config run infers from the tree at `root` (tasks named by their
    metrics), at `width` inches (`plots.width`) when given."""
    import dataclasses

    from utils.inference import with_inferred
    from utils.loading import load
    config = with_inferred(config, load(root, config).frame, say=False)
    return dataclasses.replace(config, plot_width=width) if width else config


def render_views(name: str, root: Path, config, only: dict | None = None, extra: tuple[str, ...] = ()):
    """(keys, figure) per output of a registered figure (only the `only` slice's when given; a slice whose
    figure is split into parts gives one per part, keys `part` and `parts` added), drawn as the runner
    draws it, plus the views it was cut from (its own and `extra`), by name."""
    from analysis.scores import Gaps
    from analysis.views import compute
    from plots.registry import OutputContext, discover
    from utils.loading import load
    from runner.planning import jobs_of_slice, split

    spec = discover()[name]
    views = compute({spec.needs, *extra}, load(root, config).frame, config, Gaps())
    figs = [(keys, spec.func(part, OutputContext(config, keys, spec.title)))
            for slice_keys, part in split(spec, views[spec.needs]) if only is None or slice_keys == only
            for keys, _ in jobs_of_slice(spec, slice_keys, part, config)]
    return figs, views


def render(name: str, root: Path, config, only: dict | None = None):
    """As render_views, with only the figure's own view."""
    from plots.registry import discover

    figs, views = render_views(name, root, config, only)
    return figs, views[discover()[name].needs]
