"""The application layer's wiring: what the run store runs and who renders its pages.

The run store (:mod:`valleys.runs`) names neither the experiments, the analysis nor the
report. This module wires them in, by dotted path, so that nothing is imported before it
is used and a worker imports a task's runner from its path alone
(:func:`valleys.runs.sweep_task.run_task`):

- the task kind ``"experiment"``: a registered experiment (``valleys sweep NAME``);
- the task kind ``"analyze"``: an analysis of the user's model (``valleys sweep analyze``);
- the page renderer :mod:`valleys.report` (:mod:`valleys.runs.pages`).

Importing :mod:`valleys` calls :func:`wire`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from ..runs.pages import register_renderer
from ..runs.sweep_task import register_task_kind

BUILTIN_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "experiment": ("valleys.cli.wiring:run_experiment_task", "valleys.cli.wiring:plan_experiment_sweep",
                   ("valleys.experiments.catalog",)),
    "analyze": ("valleys.analysis.sweep:run_analyze_task", "valleys.cli.wiring:plan_analyze_sweep", ()),
}
"""kind -> (runner, planner, modules a local pool preloads); paths ``"package.module:function"``."""

PAGE_RENDERER = "valleys.report"
"""The module that renders the run store's pages."""


def wire() -> None:
    """Register the built-in task kinds and the page renderer with the run store."""
    register_builtin_kinds()
    register_renderer(PAGE_RENDERER)


def register_builtin_kinds() -> None:
    """Register the ``"experiment"`` and ``"analyze"`` task kinds with the run store."""
    for kind, (runner, planner, preload) in BUILTIN_KINDS.items():
        register_task_kind(kind, runner, planner, preload=preload)


def run_experiment_task(task: dict[str, Any]) -> dict[str, Any]:
    """The ``"experiment"`` kind: run a registered experiment with the task's params.

    An experiment outside the package is imported from the task's ``module`` first.

    Args:
        task: the task dict (``name``, ``params``, optionally ``module``).

    Returns:
        The :func:`~valleys.record.task_outcome` of the run.

    Raises:
        TypeError: if the experiment does not return a :class:`~valleys.record.Result`.
    """
    from ..experiments.registry import REGISTRY, get_experiment, load_all
    from ..record import Result, task_outcome

    load_all()
    if task["name"] not in REGISTRY and task.get("module"):
        importlib.import_module(task["module"])
    exp = get_experiment(task["name"])
    params = exp.params.from_dict(task["params"])
    result = exp.run(params)
    if not isinstance(result, Result):
        msg = f"Experiment {exp.name!r} must return a valleys Result. Got {type(result).__name__}."
        raise TypeError(msg)
    return task_outcome(result)


def plan_experiment_sweep(name: str, grid: list[str], seeds: str | None, quick: bool,
                          fixed: Iterable[str]):
    """The sweep of the registered experiment ``name`` (see :func:`valleys.runs.sweep.build_sweep`).

    Args:
        name: the experiment's name.
        grid: ``KEY=V1,V2,...`` texts.
        seeds: ``"0..9"`` or ``"0,3,7"``, or None for the preset's seed.
        quick: start from the quick preset.
        fixed: ``key=value`` overrides of every task.

    Returns:
        ``(spec, tasks)``: the :class:`~valleys.runs.sweep_spec.SweepSpec` and its expanded
        tasks.
    """
    from ..experiments import get_experiment
    from ..runs.sweep_spec import EXPERIMENT, SweepSpec, expand, parse_grid, parse_seeds

    exp = get_experiment(name)
    base = exp.params.preset(quick).with_overrides(list(fixed))
    seed_list = parse_seeds(seeds) if seeds is not None else (base.seed,)
    spec = SweepSpec(name=name, grid=parse_grid(list(grid), exp.params), seeds=seed_list,
                     quick=quick, fixed=tuple(fixed), kind=EXPERIMENT)
    module = exp.module
    module = "" if module.startswith("valleys.") else module
    return spec, expand(spec, exp.params, module)


def plan_analyze_sweep(name: str, grid: list[str], seeds: str | None, quick: bool,
                       fixed: Iterable[str]):
    """Parse, resolve and check an analyze sweep; nothing is stored.

    Args:
        name: ``"analyze"``.
        grid: ``key=v1,v2,...`` items over :class:`~valleys.analysis.AnalyzeParams` fields.
        seeds: ``"0..9"``, ``"0,3"`` or None (seed 0).
        quick: must be False (analyze has one preset).
        fixed: ``key=value`` items for every task; ``model`` and ``data`` are required.

    Returns:
        ``(spec, tasks)`` as :func:`valleys.runs.sweep.build_sweep` returns them.

    Raises:
        InvalidParameterError, ModelError, DataError, ...: any bad grid, value, model,
            checkpoint, data file or option, before anything runs.
    """
    from ..analysis.stored import AnalyzeParams
    from ..analysis.sweep import KIND, absolute_grid, check_tasks, resolve_fixed
    from ..errors import InvalidParameterError
    from ..runs.sweep_spec import SweepSpec, expand, parse_grid, parse_seeds

    if quick:
        raise InvalidParameterError("--quick has no meaning for analyze sweeps (analyze has "
                                    "one preset); drop it.")
    resolved, base = resolve_fixed(list(fixed))
    parsed = absolute_grid(parse_grid(list(grid), AnalyzeParams, base=base))
    seed_list = parse_seeds(seeds) if seeds is not None else (base.seed,)
    spec = SweepSpec(name=KIND, grid=parsed, seeds=seed_list, quick=False, fixed=tuple(resolved),
                     kind=KIND)
    tasks = expand(spec, AnalyzeParams, "", base=base)
    check_tasks(tasks)
    return spec, tasks
