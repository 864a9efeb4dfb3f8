"""Sweeps of ``valleys analyze``: the same measurements over a grid of models, data and seeds.

``valleys sweep analyze --set model=SPEC data=FILE|NAME --grid n=200,400 --seeds 0..4``
expands like an experiment sweep, with :class:`AnalyzeParams` as the parameters. Every
distinct task (seeds aside) is checked with :func:`prepare` before anything runs or is
stored, so a missing file, a bad factory or a bad option fails the whole command at once.
The sweep itself is planned by the application layer (:mod:`valleys.cli.wiring`), which
registers :func:`run_analyze_task` as the ``"analyze"`` task kind.
File paths are made absolute first, so local workers (and Dask workers that share the
file system) find the same files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ValleysError
from .stored import AnalyzeParams, as_result, prepare

KIND = "analyze"
"""The sweep task kind (and the NAME of ``valleys sweep analyze``)."""

PATH_FIELDS = ("weights", "interpolate", "connect")
"""AnalyzeParams fields that always name a file."""


def resolve_fixed(fixed: list[str]) -> tuple[list[str], AnalyzeParams]:
    """The ``--set`` items of an analyze sweep with file paths made absolute, and the
    parameters they give (the base of every task).

    Args:
        fixed: ``key=value`` texts.

    Returns:
        ``(items, params)``: the resolved ``key=value`` texts and the :class:`AnalyzeParams`
        they give.

    Raises:
        InvalidParameterError: ``model`` or ``data`` missing, or a bad item.
    """
    given = _assignments(fixed)
    missing = [k for k in ("model", "data") if not given.get(k)]
    if missing:
        msg = (f"valleys sweep analyze needs --set {' '.join(f'{k}=...' for k in missing)} "
               "(for example --set model=my_nets.py:make_cnn data=digits).")
        raise InvalidParameterError(msg)
    resolved = [f"{k}={_absolute(k, v)}" for k, v in given.items()]
    return resolved, _base(resolved)


def absolute_grid(grid: tuple[tuple[str, tuple[Any, ...]], ...]) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """A parsed grid with every value that names a local file made absolute.

    Args:
        grid: ``(key, values)`` pairs of a parsed ``--grid``.

    Returns:
        The same pairs, file-path texts replaced by absolute paths.
    """
    return tuple((key, tuple(_absolute(key, v) if isinstance(v, str) else v for v in values))
                 for key, values in grid)


def check_tasks(tasks) -> None:
    """Build every distinct task's model, data and landscape (seeds aside) to check them.

    Args:
        tasks: the sweep's tasks (each with ``params`` and ``point``).

    Raises:
        ValleysError: the error of the first task that cannot be prepared, naming its grid point.
    """
    seen: set[str] = set()
    for task in tasks:
        params = {k: v for k, v in task.params.items() if k != "seed"}
        key = json.dumps(params, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            prepare(AnalyzeParams(**{**params, "seed": task.params["seed"]}))
        except ValleysError as exc:
            if len(tasks) == 1:
                raise
            raise type(exc)(f"Grid point {_where(task.point)}: {exc}") from None


def run_analyze_task(task: dict[str, Any]) -> dict[str, Any]:
    """The ``"analyze"`` task kind: prepare and run one analysis, return it as plain data.

    Args:
        task: the task dict; ``task["params"]`` is an :class:`AnalyzeParams` dict.

    Returns:
        The :func:`~valleys.record.task_outcome` of the analysis (with the model info and the
        filled parameters in its metadata).
    """
    from ..record import task_outcome
    from .analysis import run_analysis

    prepared = prepare(AnalyzeParams.from_dict(task["params"]))
    analysis = run_analysis(prepared.land, prepared.params.options(), prepared.ends,
                            prepared.data_info, progress=False)
    analysis.metadata["model"] = prepared.model_info
    analysis.metadata["params_filled"] = prepared.params.to_dict()
    return task_outcome(as_result(analysis))


def _assignments(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            msg = f"--set expects key=value. Got {item!r}."
            raise InvalidParameterError(msg)
        key, value = (s.strip() for s in item.split("=", 1))
        out[key] = value
    return out


def _base(assignments: list[str]) -> AnalyzeParams:
    """AnalyzeParams from ``key=value`` strings (its defaults need a model, so no base)."""
    import dataclasses

    from ..record.params import field_types, parse_value

    names = {f.name for f in dataclasses.fields(AnalyzeParams)}
    hints = field_types(AnalyzeParams)
    values = {}
    for item in assignments:
        key, raw = item.split("=", 1)
        if key not in names:
            msg = f"analyze: unknown parameter {key!r}. Known: {', '.join(sorted(names))}."
            raise InvalidParameterError(msg)
        values[key] = parse_value(raw, hints[key], key)
    return AnalyzeParams(**values)


def _absolute(key: str, value: str) -> str:
    """``value`` with its file part made absolute when it names an existing local file."""
    if key == "model":
        where, sep, name = value.rpartition(":") if ":" in value else (value, "", "")
        if where.endswith(".py") or (not sep and value.endswith(".pt2")):
            target = where if sep else value
            if Path(target).is_file():
                full = os.path.abspath(target)
                return f"{full}{sep}{name}" if sep else full
        return value
    if key in PATH_FIELDS or key == "data":
        if value and Path(value).is_file():
            return os.path.abspath(value)
    return value


def _where(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in point.items())
