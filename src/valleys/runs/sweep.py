"""Sweeps: run a grid of tasks through an executor, store each outcome as it arrives, merge.

Layout of a sweep folder ``<store>/<sweep-id>/``:

- ``sweep.json``: the spec and every task (plain data);
- ``tasks/<index>-<key>.parquet``: one file per completed task, its result table with the
  verdict, metadata and warnings in the Parquet schema metadata (key ``valleys``);
- ``tasks/<index>-<key>.error.json``: the error and traceback of a failed task;
- ``sweep.parquet``: every task's table, one after the other in task order, with the
  columns ``task``, ``seed``, one per grid key and ``passed`` (the task's verdict) in
  front; ``summary.parquet``: one row per task (its grid point, verdict and the numeric
  measured value of each check, ``check:<name>``, each numeric headline number of an
  analyze task, ``summary:<name>``, and the mean of each numeric table
  column, ``mean:<column>``);
- ``figures/*.png`` and ``report.html``: metric against parameter with confidence bands
  over seeds (rendered by the registered page renderer, :mod:`valleys.runs.pages`).

The catalogue rows (:mod:`valleys.runs.sweep_catalogue`) say which tasks are done, so the
same command after a crash runs only the missing ones; the merged table depends only on
the task files, so it is identical to that of an uninterrupted sweep.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import atomic_path, write_text
from ..errors import RunStoreError, ValleysError
from . import jsonio
from .errors import UnknownRunError
from .sweep_catalogue import (
    S_COMPLETE,
    S_INCOMPLETE,
    S_INTERRUPTED,
    T_DONE,
    T_FAILED,
    T_PENDING,
    SweepCatalogue,
    SweepRecord,
    TaskRecord,
)
from .sweep_spec import EXPERIMENT, SWEEP_PREFIX, SweepSpec, Task
from .sweep_task import META_KEY, resolve, stored_task, task_kind, task_kinds, with_runner

SPEC_NAME = "sweep.json"
TASKS_DIR = "tasks"
TABLE_NAME = "sweep.parquet"
SUMMARY_NAME = "summary.parquet"
REPORT_NAME = "report.html"

FRONT = ("task", "seed", "passed")
"""Columns the sweep table puts in front of each task's own columns (with the grid keys)."""


def build_sweep(name: str, grid: list[str], seeds: str | None, *, quick: bool = False,
                fixed: Iterable[str] = ()) -> tuple[SweepSpec, list[Task]]:
    """Parse and validate a sweep; nothing is stored.

    ``name`` is planned by the registered task kind of that name when there is one with a
    planner (``"analyze"``), else as a job of the kind ``"experiment"`` (a registered
    experiment); see :mod:`valleys.runs.sweep_task`.

    Args:
        name: the experiment name, or a kind's name such as ``"analyze"`` (then ``fixed``
            must set ``model`` and ``data``; see :mod:`valleys.analysis.sweep`).
        grid: ``key=v1,v2,...`` items.
        seeds: ``"0..9"``, ``"0,3"`` or None (the preset's seed).
        quick: start from the quick preset.
        fixed: ``key=value`` overrides for every task.

    Returns:
        The spec and its tasks.

    Raises:
        UnknownExperimentError: the experiment name is not registered.
        InvalidParameterError: bad grid or seed syntax, an unknown key, a value of the wrong
            type or out of its limits.
    """
    kinds = task_kinds()
    own = kinds.get(name)
    kind = own if own is not None and own.planner and name != EXPERIMENT else task_kind(EXPERIMENT)
    if not kind.planner:
        raise ValleysError(f"The task kind {kind.kind!r} cannot plan sweeps by name.")
    return resolve(kind.planner)(name, list(grid), seeds, quick, tuple(fixed))


class Sweeps:
    """The sweeps of a run store.

    Args:
        store: a :class:`~valleys.runs.RunStore` (its root and catalogue are shared).
        create: add the sweep tables to the catalogue if missing.
    """

    def __init__(self, store, create: bool = True):
        self.store = store
        self.root: Path = store.root
        self.catalogue = SweepCatalogue(store.catalogue, create=create)

    # -- running -----------------------------------------------------------------------

    def run(self, spec: SweepSpec, tasks: list[Task], executor, *, retry_failed: bool = False,
            progress: bool = True,
            on_start: Callable[[SweepRecord, int], None] | None = None) -> SweepRecord:
        """Run the tasks of ``spec`` that are not done yet and merge the sweep.

        Args:
            spec: the sweep (its id names the folder and the catalogue row).
            tasks: ``expand(spec, ...)``.
            executor: a :mod:`valleys.runs.executors` executor.
            retry_failed: also rerun the tasks that failed before.
            progress: a tqdm bar on stderr (only on a terminal).
            on_start: called with the record and the number of tasks to run.

        Returns:
            The sweep's record once every task has been tried.

        Raises:
            SweepBusyError: another live process runs this sweep.
            KeyboardInterrupt: re-raised after recording the sweep as interrupted.
        """
        from tqdm import tqdm

        sweep_id = spec.sweep_id
        folder = self.root / sweep_id
        try:
            (folder / TASKS_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self.store._unwritable(exc) from exc
        self.catalogue.claim(sweep_id, spec.kind, spec.name, spec.to_dict(),
                             [(t.index, t.key, t.point) for t in tasks],
                             executor.description, retry_failed)
        try:
            write_text(folder / SPEC_NAME, jsonio.dumps(
                {"sweep_id": sweep_id, "spec": spec.to_dict(),
                 "tasks": [{**t.to_dict(), "key": t.key} for t in tasks]}))
            rows = self._lost_files_to_pending(sweep_id, folder)
            todo = [with_runner(t.to_dict()) for t, row in zip(tasks, rows, strict=True)
                    if row.status == T_PENDING]
            if on_start is not None:
                on_start(self.catalogue.get(sweep_id), len(todo))
            bar = tqdm(total=len(todo), desc=sweep_id, unit="task", leave=False,
                       file=sys.stderr, disable=None if progress else True)
            try:
                for task, outcome in executor.run(todo):
                    self._record(sweep_id, folder, task, outcome)
                    bar.update()
            finally:
                bar.close()
                executor.close()
                self.catalogue.close()
        except KeyboardInterrupt:
            self.catalogue.finish(sweep_id, S_INTERRUPTED, "Interrupted (Ctrl-C or SIGTERM); "
                                  "run the same command again to resume.")
            self._write_index()
            raise
        except BaseException as exc:
            self.catalogue.finish(sweep_id, S_INTERRUPTED, f"{type(exc).__name__}: {exc}")
            self._write_index()
            raise
        record = self.catalogue.get(sweep_id)
        status = S_COMPLETE if record.n_done == record.n_tasks else S_INCOMPLETE
        message = None if status == S_COMPLETE else (
            f"{record.n_failed} task(s) failed; see 'valleys show {sweep_id}' and rerun with "
            "--retry-failed.")
        self.catalogue.finish(sweep_id, status, message)
        self.merge(sweep_id)  # after finish, so that the report shows the final status
        self._write_index()
        return self.catalogue.get(sweep_id)

    def merge(self, sweep_id: str) -> tuple[Path, Path]:
        """(Re)build ``sweep.parquet``, ``summary.parquet``, the figures and ``report.html``.

        Args:
            sweep_id: the sweep id or a unique prefix of it.

        Returns:
            The paths of the sweep table and of the report.
        """
        from .pages import SweepPage, renderer
        from .writer import parquet_safe, save_figures

        record = self.get(sweep_id)
        tasks = self.catalogue.tasks(record.sweep_id)
        keys = [k for k, _ in record.spec["grid"]]
        frames, summary = [], []
        for task in tasks:
            if task.status != T_DONE:
                continue
            frame, info = read_task_file(record.path / task.file)
            front = _front(task, keys, info)
            frames.append(_with_front(frame, front))
            summary.append({**front, **_metrics(info, frame)})
        columns = ["task", "seed", *keys, "passed"]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        summary_frame = pd.DataFrame(summary) if summary else pd.DataFrame(columns=columns)
        table_path = record.path / TABLE_NAME
        for frame, path in ((table, table_path), (summary_frame, record.path / SUMMARY_NAME)):
            safe, _ = parquet_safe(frame)
            with atomic_path(path) as tmp:
                safe.to_parquet(tmp, engine="pyarrow", index=False)
        numeric_keys = [k for k, values in record.spec["grid"]
                        if len(values) > 1 and all(_is_number(v) for v in values)]
        pages = renderer()
        figures = save_figures(record.path, pages.sweep_figures(summary_frame, numeric_keys, keys))
        page = SweepPage(record=record, tasks=tasks, figures=figures, grid_keys=keys,
                         summary=summary_frame)
        report = record.path / REPORT_NAME
        write_text(report, pages.render_sweep(page))
        return table_path, report

    # -- reading -----------------------------------------------------------------------

    def list(self) -> list[SweepRecord]:
        """Every sweep, newest first (drivers that died show as ``stale``).

        Returns:
            The :class:`~valleys.runs.sweep_catalogue.SweepRecord` of every sweep.
        """
        self.catalogue.mark_stale()
        return self.catalogue.all()

    def get(self, sweep_id: str) -> SweepRecord:
        """The sweep ``sweep_id`` (a unique prefix is accepted).

        Sweeps whose driver died are marked ``stale`` first.

        Args:
            sweep_id: the sweep id or a unique prefix of it.

        Returns:
            The :class:`~valleys.runs.sweep_catalogue.SweepRecord`.

        Raises:
            UnknownRunError: no sweep, or several, match.
        """
        if not self.catalogue.exists():
            raise UnknownRunError(f"No sweep with id {sweep_id!r} in {self.root}. Run "
                                  "'valleys runs' to list the stored runs and sweeps.")
        self.catalogue.mark_stale()
        record = self.catalogue.get(sweep_id)
        if record is not None:
            return record
        ids = [r.sweep_id for r in self.catalogue.all()]
        matches = sorted(i for i in ids if i.startswith(sweep_id)) if sweep_id else []
        if len(matches) == 1:
            return self.catalogue.get(matches[0])
        if matches:
            raise UnknownRunError(f"Sweep id prefix {sweep_id!r} matches {len(matches)} sweeps "
                                  f"({', '.join(matches[:5])}). Give more characters.")
        close = difflib.get_close_matches(sweep_id, ids, n=3, cutoff=0.6)
        hint = (f" Did you mean: {', '.join(close)}?" if close
                else " Run 'valleys runs' to list the stored runs and sweeps.")
        raise UnknownRunError(f"No sweep with id {sweep_id!r} in {self.root}.{hint}")

    def tasks(self, sweep_id: str) -> list[TaskRecord]:
        """The task rows of a sweep, in order.

        Args:
            sweep_id: the sweep id or a unique prefix of it.

        Returns:
            The :class:`~valleys.runs.sweep_catalogue.TaskRecord` of each task.
        """
        return self.catalogue.tasks(self.get(sweep_id).sweep_id)

    def table(self, sweep_id: str) -> pd.DataFrame:
        """The merged sweep table (``sweep.parquet``).

        Args:
            sweep_id: the sweep id or a unique prefix of it.

        Returns:
            The table: every done task's rows, with its grid point in front.

        Raises:
            RunStoreError: the sweep has not been merged yet or its file is damaged.
        """
        from .stored import read_table

        return read_table(self.get(sweep_id).path / TABLE_NAME)

    def summary(self, sweep_id: str) -> pd.DataFrame:
        """One row per done task: grid point, verdict, check values, table means.

        Args:
            sweep_id: the sweep id or a unique prefix of it.

        Returns:
            The ``summary.parquet`` table.

        Raises:
            RunStoreError: the sweep has not been merged yet or its file is damaged.
        """
        from .stored import read_table

        return read_table(self.get(sweep_id).path / SUMMARY_NAME)

    # -- internals ---------------------------------------------------------------------

    def _record(self, sweep_id: str, folder: Path, task: dict[str, Any],
                outcome: dict[str, Any]) -> None:
        task = stored_task(task)
        t = Task.from_dict(task)
        stem = f"{t.index:05d}-{t.key}"
        worker = f"{outcome.get('host')}:{outcome.get('pid')}" if outcome.get("pid") else None
        if outcome.get("ok"):
            rel = f"{TASKS_DIR}/{stem}.parquet"
            write_task_file(folder / rel, outcome)
            verdict = outcome["verdict"]
            self.catalogue.record_task(sweep_id, t.index, T_DONE, passed=bool(verdict.get("passed")),
                                       summary=verdict.get("summary"),
                                       wall_time_s=outcome.get("wall_time_s"), file=rel,
                                       worker=worker)
            return
        error = outcome.get("error", "unknown error")
        write_text(folder / f"{TASKS_DIR}/{stem}.error.json",
                   jsonio.dumps({"task": task, "error": error,
                                 "traceback": outcome.get("traceback", ""), "worker": worker}))
        self.catalogue.record_task(sweep_id, t.index, T_FAILED, message=error,
                                   wall_time_s=outcome.get("wall_time_s"), worker=worker)

    def _lost_files_to_pending(self, sweep_id: str, folder: Path) -> list[TaskRecord]:
        rows = self.catalogue.tasks(sweep_id)
        lost = [r for r in rows if r.status == T_DONE and not (folder / str(r.file)).is_file()]
        for row in lost:
            with self.catalogue.catalogue._connect() as conn:
                conn.execute("UPDATE sweep_tasks SET status=?, file=NULL WHERE sweep_id=? AND idx=?",
                             (T_PENDING, sweep_id, row.idx))
        return self.catalogue.tasks(sweep_id) if lost else rows

    def _write_index(self) -> None:
        try:
            self.store.write_index()
        except RunStoreError:
            pass  # the sweep's own outcome is what to report


def is_sweep_id(text: str) -> bool:
    """Whether ``text`` names a sweep (sweep ids start with ``sweep-``).

    Args:
        text: a run or sweep id (or prefix).

    Returns:
        True for a sweep id.
    """
    return str(text).startswith(SWEEP_PREFIX)


def write_task_file(path: Path, outcome: dict[str, Any]) -> None:
    """Write the task file a worker built (:func:`valleys.runs.sweep_task.table_bytes`).

    Args:
        path: where the task file goes (written atomically).
        outcome: the task's successful outcome; ``outcome["file"]`` holds the Parquet bytes.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(outcome["file"])


def read_task_file(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A task file's table and its ``valleys`` metadata (task, verdict, metadata, warnings).

    Args:
        path: the task's Parquet file.

    Returns:
        ``(table, info)``: the task's table and the metadata dict stored under
        :data:`~valleys.runs.sweep_task.META_KEY`.

    Raises:
        RunStoreError: the file is missing or damaged.
    """
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        info = json.loads(table.schema.metadata[META_KEY])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = (f"Cannot read the task file {path}: {exc}. Delete it and run the sweep command "
               "again; the task will be rerun.")
        raise RunStoreError(msg) from exc
    return table.to_pandas(), info


def _front(task: TaskRecord, keys: list[str], info: dict[str, Any]) -> dict[str, Any]:
    front: dict[str, Any] = {"task": task.idx, "seed": task.point.get("seed")}
    for key in keys:
        value = task.point.get(key)
        front[key] = json.dumps(value) if isinstance(value, list | dict) else value
    front["passed"] = bool(info["verdict"].get("passed"))
    return front


def _with_front(frame: pd.DataFrame, front: dict[str, Any]) -> pd.DataFrame:
    """The task's table with the sweep columns first; clashing own columns get ``result.``."""
    frame = frame.rename(columns={c: f"result.{c}" for c in frame.columns if c in front})
    head = pd.DataFrame({k: [v] * len(frame) for k, v in front.items()}, index=frame.index)
    return pd.concat([head, frame], axis=1)


def _metrics(info: dict[str, Any], frame: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {}
    for check in info["verdict"].get("checks", []):
        value = check.get("measured")
        if _is_number(value):
            out[f"check:{check['name']}"] = float(value)
    headline = (info.get("metadata") or {}).get("summary")
    if isinstance(headline, dict):  # analyze tasks: their headline numbers
        for key, value in headline.items():
            if _is_number(value):
                out[f"summary:{key}"] = float(value)
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            out[f"mean:{column}"] = float(series.mean()) if len(series) else float("nan")
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
