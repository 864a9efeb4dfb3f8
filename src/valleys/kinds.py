"""The sweep task kinds of valleys, wired into the run store by the application layer.

The run store (:mod:`valleys.runs`) runs tasks of any registered kind and names none of
them. This module registers the two kinds of valleys by dotted path, so that a worker
imports a runner from its path alone (:func:`valleys.runs.sweep_task.run_task`):

- ``"experiment"``: a registered experiment (``valleys sweep NAME``);
- ``"analyze"``: an analysis of the user's model (``valleys sweep analyze``).

Importing :mod:`valleys` registers them (:func:`register_builtin_kinds`); the modules they
name are imported only when a sweep is planned or a task runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from .runs.sweep_task import register_task_kind

BUILTIN_KINDS: dict[str, tuple[str, str]] = {
    "experiment": ("valleys.kinds:run_experiment_task", "valleys.kinds:plan_experiment_sweep"),
    "analyze": ("valleys.analyze.sweep:run_analyze_task", "valleys.kinds:plan_analyze_sweep"),
}
"""kind -> (runner, planner), each ``"package.module:function"``."""


def register_builtin_kinds() -> None:
    """Register the ``"experiment"`` and ``"analyze"`` task kinds with the run store."""
    for kind, (runner, planner) in BUILTIN_KINDS.items():
        register_task_kind(kind, runner, planner)


def run_experiment_task(task: dict[str, Any]) -> dict[str, Any]:
    """The ``"experiment"`` kind: run a registered experiment with the task's params."""
    from .experiments.registry import REGISTRY, get_experiment, load_all
    from .record import Result, task_outcome

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
    """The sweep of the registered experiment ``name`` (see :func:`valleys.runs.sweep.build_sweep`)."""
    from .experiments import get_experiment
    from .runs.sweep_spec import EXPERIMENT, SweepSpec, expand, parse_grid, parse_seeds

    exp = get_experiment(name)
    base = exp.params.preset(quick).with_overrides(list(fixed))
    seed_list = parse_seeds(seeds) if seeds is not None else (base.seed,)
    spec = SweepSpec(name=name, grid=parse_grid(list(grid), exp.params), seeds=seed_list,
                     quick=quick, fixed=tuple(fixed), kind=EXPERIMENT)
    module = exp.func.__module__
    module = "" if module.startswith("valleys.") else module
    return spec, expand(spec, exp.params, module)


def plan_analyze_sweep(name: str, grid: list[str], seeds: str | None, quick: bool,
                       fixed: Iterable[str]):
    """Parse, resolve and check an analyze sweep; nothing is stored.

    Args:
        name: ``"analyze"``.
        grid: ``key=v1,v2,...`` items over :class:`~valleys.analyze.AnalyzeParams` fields.
        seeds: ``"0..9"``, ``"0,3"`` or None (seed 0).
        quick: must be False (analyze has one preset).
        fixed: ``key=value`` items for every task; ``model`` and ``data`` are required.

    Returns:
        ``(spec, tasks)`` as :func:`valleys.runs.sweep.build_sweep` returns them.

    Raises:
        InvalidParameterError, ModelError, DataError, ...: any bad grid, value, model,
            checkpoint, data file or option, before anything runs.
    """
    from .analyze.stored import AnalyzeParams
    from .analyze.sweep import KIND, absolute_grid, check_tasks, resolve_fixed
    from .errors import InvalidParameterError
    from .runs.sweep_spec import SweepSpec, expand, parse_grid, parse_seeds

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
