"""Run one sweep task in a worker and return its outcome as plain data.

:func:`run_task` is what every executor calls (the local process pool, the in-process
executor and Dask workers). It takes a task dict (:meth:`Task.to_dict`) and returns a
dict of plain values: the result table as Parquet bytes, the verdict and metadata as
JSON-able dicts. Exceptions never escape: a task that raises returns ``ok: False`` with
its error, so one bad grid point does not stop a sweep. Nothing is pickled into the run
store; the outcome is written by the driver (:mod:`valleys.runs.sweep`).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import os
import socket
import time
import traceback
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ValleysError

META_KEY = b"valleys"
"""Parquet schema-metadata key of a task file holding its task, verdict, metadata,
warnings and wall time (JSON)."""

TaskRunner = Callable[[dict[str, Any]], dict[str, Any]]
"""A task kind's runner: task dict -> outcome dict (see :func:`run_experiment_task`)."""

_KINDS: dict[str, TaskRunner] = {}


def register_task_kind(kind: str, runner: TaskRunner) -> None:
    """Make ``kind`` runnable in sweeps (``"experiment"`` and ``"analyze"`` are built in).

    Args:
        kind: the task kind (e.g. ``"analyze"``).
        runner: task dict -> ``{"table": DataFrame, "verdict": dict, "metadata": dict}``.
    """
    _KINDS[kind] = runner


def run_task(task: dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """Run one task and return its outcome (never raises for errors of the task).

    Args:
        task: a :meth:`Task.to_dict` dict.
        threads: torch threads for this task (None leaves the worker's setting).

    Returns:
        ``{"ok": True, "key", "file": <Parquet bytes of the task file>, "verdict": dict,
        "wall_time_s", "pid", "host"}`` (the file holds the table, and the task, verdict,
        metadata and warnings under :data:`META_KEY`), or ``{"ok": False, "key",
        "error": "Type: message", "traceback": str, ...}``.
    """
    from .sweep_spec import Task

    base = {"key": Task.from_dict(task).key, "pid": os.getpid(), "host": socket.gethostname()}
    t0 = time.perf_counter()
    try:
        if threads is not None:
            import torch

            torch.set_num_threads(max(1, int(threads)))
        runner = _KINDS.get(task["kind"]) or _builtin(task["kind"])
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


def run_experiment_task(task: dict[str, Any]) -> dict[str, Any]:
    """The ``"experiment"`` kind: run a registered experiment with the task's params."""
    from ..experiments import Result
    from ..experiments.registry import REGISTRY, get_experiment, load_all
    from . import jsonio, writer

    load_all()
    if task["name"] not in REGISTRY and task.get("module"):
        importlib.import_module(task["module"])
    exp = get_experiment(task["name"])
    params = params_from_dict(exp.params, task["params"])
    result = exp.run(params)
    if not isinstance(result, Result):
        msg = f"Experiment {exp.name!r} must return a valleys Result. Got {type(result).__name__}."
        raise TypeError(msg)
    writer.close_figures(result.figures)
    return {"table": result.table, "verdict": result.verdict.to_dict(),
            "metadata": jsonio.to_jsonable(result.metadata)}


def params_from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a Params object from its ``to_dict()`` (lists become tuples where typed so).

    Raises:
        InvalidParameterError: a field is missing or unknown.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    if set(names) != set(data):
        msg = (f"Task parameters do not match {cls.__name__}: missing "
               f"{sorted(set(names) - set(data))}, unknown {sorted(set(data) - set(names))}.")
        raise InvalidParameterError(msg)
    hints = typing.get_type_hints(cls)
    values = {}
    for name in names:
        value = data[name]
        if typing.get_origin(hints[name]) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def table_bytes(table: Any, info: dict[str, Any] | None = None) -> bytes:
    """A DataFrame as Parquet bytes, ``info`` as JSON under the schema-metadata key
    :data:`META_KEY` (columns Arrow cannot type are stored as text)."""
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


def _builtin(kind: str) -> TaskRunner:
    if kind == "experiment":
        return run_experiment_task
    if kind == "analyze":
        from ..analyze.sweep import run_analyze_task

        return run_analyze_task
    known = ", ".join(sorted({"experiment", "analyze", *_KINDS}))
    msg = f"Unknown task kind {kind!r}. Known kinds: {known}."
    raise ValleysError(msg)
