"""Run one sweep task in a worker and return its outcome as plain data.

:func:`run_task` is what every executor calls (the local process pool, the in-process
executor and Dask workers). It takes a task dict (:meth:`Task.to_dict`) and returns a
dict of plain values: the result table as Parquet bytes, the verdict and metadata as
JSON-able dicts. Exceptions never escape: a task that raises returns ``ok: False`` with
its error, so one bad grid point does not stop a sweep. Nothing is pickled into the run
store; the outcome is written by the driver (:mod:`valleys.runs.sweep`).
"""

from __future__ import annotations

import importlib
import io
import os
import socket
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ValleysError

META_KEY = b"valleys"
"""Parquet schema-metadata key of a task file holding its task, verdict, metadata,
warnings and wall time (JSON)."""

TaskRunner = Callable[[dict[str, Any]], dict[str, Any]]
"""A task kind's runner: task dict -> ``{"table": DataFrame, "verdict": dict, "metadata": dict}``."""

RUNNER_KEY = "runner"
"""Key of the runner's dotted path in a task dict on its way to a worker (never stored)."""


@dataclass(frozen=True)
class TaskKind:
    """A kind of sweep task, wired in by the application layer.

    Attributes:
        kind: the task kind (``Task.kind``), e.g. ``"experiment"``.
        runner: ``"package.module:function"``, task dict -> outcome dict; imported where
            the task runs (a fresh Dask worker imports it from this path alone).
        planner: ``"package.module:function"``, ``(name, grid, seeds, quick, fixed)`` ->
            ``(SweepSpec, tasks)``, imported by the driver (see
            :func:`valleys.runs.sweep.build_sweep`); empty when the kind is not planned by
            name.
        preload: modules worth importing once where workers are forked from (a local pool's
            fork server), so that each task does not import them again.
    """

    kind: str
    runner: str
    planner: str = ""
    preload: tuple[str, ...] = ()


_KINDS: dict[str, TaskKind] = {}


def register_task_kind(kind: str, runner: str | TaskRunner, planner: str | Callable = "", *,
                       preload: tuple[str, ...] = ()) -> TaskKind:
    """Make ``kind`` runnable in sweeps.

    The application layer registers the kinds of valleys (``"experiment"``, ``"analyze"``;
    see :mod:`valleys.cli.wiring`); the run store names none of them.

    Args:
        kind: the task kind (e.g. ``"analyze"``).
        runner: the dotted path ``"package.module:function"`` of the runner, or the function
            itself (it must be importable by that path: a module-level function).
        planner: the same for the sweep planner (optional; see :class:`TaskKind`).
        preload: see :class:`TaskKind`.

    Returns:
        The registered kind.

    Raises:
        InvalidParameterError: a path that is not ``module:function`` or a function that
            cannot be imported by its name.
    """
    entry = TaskKind(kind, dotted_path(runner), dotted_path(planner) if planner else "",
                     tuple(preload))
    _KINDS[kind] = entry
    return entry


def task_kind(kind: str) -> TaskKind:
    """The registered kind ``kind``.

    Args:
        kind: the kind's name (``"experiment"``, ``"analyze"``, ...).

    Returns:
        Its :class:`TaskKind`.

    Raises:
        ValleysError: no such kind.
    """
    if kind in _KINDS:
        return _KINDS[kind]
    known = ", ".join(sorted(_KINDS)) or "none (import valleys to register its kinds)"
    msg = f"Unknown task kind {kind!r}. Known kinds: {known}."
    raise ValleysError(msg)


def task_kinds() -> dict[str, TaskKind]:
    """Every registered kind, by name.

    Returns:
        Name → :class:`TaskKind` (a copy).
    """
    return dict(_KINDS)


def preload_modules() -> list[str]:
    """The modules a local pool's fork server imports: this one and every kind's preload.

    Returns:
        Module names, this module first, without repeats.
    """
    modules = [__name__]
    for entry in _KINDS.values():
        modules += [m for m in entry.preload if m not in modules]
    return modules


def dotted_path(target: str | Callable) -> str:
    """``"package.module:qualname"`` of a module-level function (a string is checked and kept).

    Args:
        target: a function, or its ``"package.module:qualname"`` text.

    Returns:
        The dotted path.

    Raises:
        InvalidParameterError: not of that form, or a function defined inside another one.
    """
    if isinstance(target, str):
        module, sep, name = target.partition(":")
        if not (module and sep and name):
            msg = f"A task kind's runner is 'package.module:function'. Got {target!r}."
            raise InvalidParameterError(msg)
        return target
    path = f"{target.__module__}:{target.__qualname__}"
    if "<" in target.__qualname__:
        msg = (f"A task kind's runner must be importable by its name; {path} is defined "
               "inside a function. Define it at module level.")
        raise InvalidParameterError(msg)
    return path


def resolve(path: str) -> Callable:
    """Import the function at ``"package.module:qualname"``.

    Args:
        path: the dotted path.

    Returns:
        The function.

    Raises:
        InvalidParameterError: if the path is not of that form.
    """
    module, _, name = dotted_path(path).partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def with_runner(task: dict[str, Any]) -> dict[str, Any]:
    """``task`` with its kind's runner path under :data:`RUNNER_KEY` (for sending to a worker).

    Args:
        task: a task dict with its ``kind``.

    Returns:
        A new dict with the runner path added.

    Raises:
        ValleysError: the kind is not registered.
    """
    return {**task, RUNNER_KEY: task_kind(task["kind"]).runner}


def stored_task(task: dict[str, Any]) -> dict[str, Any]:
    """``task`` without the transient runner path (what task and error files keep).

    Args:
        task: a task dict.

    Returns:
        A new dict without :data:`RUNNER_KEY`.
    """
    return {k: v for k, v in task.items() if k != RUNNER_KEY}


def run_task(task: dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """Run one task and return its outcome (never raises for errors of the task).

    The runner is imported from the path under :data:`RUNNER_KEY` when the task carries
    one (:func:`with_runner`), so a fresh worker needs no registration; else from the
    kind registered in this process.

    Args:
        task: a :meth:`Task.to_dict` dict (with or without its runner path).
        threads: torch threads for this task (None leaves the worker's setting).

    Returns:
        ``{"ok": True, "key", "file": <Parquet bytes of the task file>, "verdict": dict,
        "wall_time_s", "pid", "host"}`` (the file holds the table, and the task, verdict,
        metadata and warnings under :data:`META_KEY`), or ``{"ok": False, "key",
        "error": "Type: message", "traceback": str, ...}``.
    """
    from .sweep_spec import Task

    path = task.get(RUNNER_KEY)
    task = stored_task(task)
    base = {"key": Task.from_dict(task).key, "pid": os.getpid(), "host": socket.gethostname()}
    t0 = time.perf_counter()
    try:
        if threads is not None:
            import torch

            torch.set_num_threads(max(1, int(threads)))
        runner = resolve(path or task_kind(task["kind"]).runner)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = runner(task)
        wall = time.perf_counter() - t0
        texts = [f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})"
                 for w in caught]
        info = {"task": task, "verdict": out["verdict"], "metadata": out["metadata"],
                "warnings": texts, "wall_time_s": wall}
        return {**base, "ok": True, "file": table_bytes(out["table"], info),
                "verdict": out["verdict"], "wall_time_s": wall}
    except Exception as exc:  # a failing task is recorded, the sweep goes on
        return {**base, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(), "wall_time_s": time.perf_counter() - t0}


def params_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """``cls.from_dict(data)`` (see :meth:`valleys.record.Params.from_dict`).

    Args:
        cls: a :class:`~valleys.record.Params` subclass.
        data: its ``to_dict`` form.

    Returns:
        The parameters.
    """
    return cls.from_dict(data)


def table_bytes(table: Any, info: dict[str, Any] | None = None) -> bytes:
    """A DataFrame as Parquet bytes, ``info`` as JSON under the schema-metadata key
    :data:`META_KEY` (columns Arrow cannot type are stored as text).

    Args:
        table: the task's table.
        info: the task, verdict, metadata and warnings to store with it, or None.

    Returns:
        The Parquet file's bytes.
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from . import jsonio
    from .writer import parquet_safe

    safe, _ = parquet_safe(table)
    arrow = pa.Table.from_pandas(safe)
    if info is not None:
        meta = dict(arrow.schema.metadata or {})
        meta[META_KEY] = json.dumps(jsonio.to_jsonable(info), sort_keys=True).encode()
        arrow = arrow.replace_schema_metadata(meta)
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    return buffer.getvalue()
