"""The sweep tables of the run catalogue (``sweeps`` and ``sweep_tasks`` in ``valleys.db``).

They are added to an existing catalogue with ``CREATE TABLE IF NOT EXISTS`` the first
time a sweep runs (the migration): the ``runs`` table is untouched, so older versions of
valleys keep reading the catalogue, and readers of a catalogue without sweeps see none.
Every write is a short autocommit statement or one ``BEGIN IMMEDIATE`` transaction on the
shared WAL database with a busy timeout, so several drivers can write at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunStoreError
from .catalogue import _BUSY_TIMEOUT_S, Catalogue
from .liveness import current_host, owner_is_dead
from .record import format_time, parse_time, utc_now

S_RUNNING, S_COMPLETE, S_INCOMPLETE, S_INTERRUPTED, S_STALE = (
    "running", "complete", "incomplete", "interrupted", "stale")
SWEEP_STATUSES = (S_RUNNING, S_COMPLETE, S_INCOMPLETE, S_INTERRUPTED, S_STALE)
"""Sweep states: ``complete`` (every task done), ``incomplete`` (some failed), ..."""

T_PENDING, T_DONE, T_FAILED = "pending", "done", "failed"
TASK_STATUSES = (T_PENDING, T_DONE, T_FAILED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'complete', 'incomplete', 'interrupted', 'stale')),
    n_tasks INTEGER NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    boot_id TEXT NOT NULL DEFAULT '',
    executor TEXT NOT NULL DEFAULT '',
    message TEXT,
    path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_tasks (
    sweep_id TEXT NOT NULL REFERENCES sweeps(sweep_id),
    idx INTEGER NOT NULL,
    task_key TEXT NOT NULL,
    point TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    passed INTEGER,
    summary TEXT,
    message TEXT,
    wall_time_s REAL,
    file TEXT,
    ended TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    PRIMARY KEY (sweep_id, idx)
);
"""
_SWEEP_COLUMNS = ("sweep_id", "kind", "name", "spec", "status", "n_tasks", "started", "ended",
                  "pid", "host", "boot_id", "executor", "message", "path")
_TASK_COLUMNS = ("idx", "task_key", "point", "status", "passed", "summary", "message",
                 "wall_time_s", "file", "ended", "attempts", "worker")


class SweepBusyError(RunStoreError):
    """Another live process is running the same sweep."""


@dataclass(frozen=True)
class SweepRecord:
    """What the catalogue knows about one sweep.

    Args:
        sweep_id: ``sweep-<name>-<hash of the spec>``, also the sweep folder's name.
        kind: the task kind (``experiment``).
        name: the job name.
        spec: :meth:`SweepSpec.to_dict`.
        status: one of :data:`SWEEP_STATUSES`.
        n_tasks: number of tasks.
        counts: task status -> number of tasks.
        started: ISO time of the first start.
        ended: ISO time the last driver finished (None while running).
        pid: the last driver process's id.
        host: the last driver's host name.
        boot_id: the last driver host's boot id.
        executor: where the tasks ran (last driver).
        message: why the sweep is incomplete / interrupted / stale.
        path: the sweep folder.
    """

    sweep_id: str
    kind: str
    name: str
    spec: dict[str, Any]
    status: str
    n_tasks: int
    counts: dict[str, int]
    started: str
    ended: str | None
    pid: int
    host: str
    boot_id: str
    executor: str
    message: str | None
    path: Path

    @property
    def n_done(self) -> int:
        return self.counts.get(T_DONE, 0)

    @property
    def n_failed(self) -> int:
        return self.counts.get(T_FAILED, 0)

    @property
    def summary(self) -> str:
        """``"12/12 tasks done"`` or ``"10/12 tasks done, 2 failed"``."""
        text = f"{self.n_done}/{self.n_tasks} tasks done"
        return text + (f", {self.n_failed} failed" if self.n_failed else "")

    @property
    def wall_time(self) -> float | None:
        if self.ended is None:
            return None
        return (parse_time(self.ended) - parse_time(self.started)).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (the path as text).

        Returns:
            Field name → value, ``path`` as text.
        """
        return {**dataclasses.asdict(self), "path": str(self.path)}

    def __repr__(self) -> str:
        return f"SweepRecord({self.sweep_id!r}, {self.status!r}, {self.summary!r})"


@dataclass(frozen=True)
class TaskRecord:
    """One task row: its grid point, status, verdict summary or error, result file.

    Attributes:
        idx: the task's index in the sweep.
        task_key: the task's key (a hash of its kind, name and parameters).
        point: its grid values, key → value, ``seed`` included.
        status: one of :data:`TASK_STATUSES`.
        passed: whether its verdict agrees (None until done).
        summary: the verdict's one-line summary.
        message: the error of a failed task.
        wall_time_s: its wall time in seconds.
        file: its task file, relative to the sweep folder.
        ended: when it ended (ISO 8601).
        attempts: how many times it was run.
        worker: where it last ran.
    """

    idx: int
    task_key: str
    point: dict[str, Any]
    status: str
    passed: bool | None
    summary: str | None
    message: str | None
    wall_time_s: float | None
    file: str | None
    ended: str | None
    attempts: int
    worker: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields.

        Returns:
            Field name → value.
        """
        return dataclasses.asdict(self)


class SweepCatalogue:
    """The sweep rows of a store's catalogue.

    Args:
        catalogue: the store's run catalogue (same database file).
        create: add the sweep tables if missing (False for read-only listing).
    """

    def __init__(self, catalogue: Catalogue, create: bool = True):
        self.catalogue = catalogue
        self.root = catalogue.root
        self._conn: sqlite3.Connection | None = None
        if create:
            with catalogue._connect() as conn:
                conn.executescript(_SCHEMA)

    def exists(self) -> bool:
        """Whether the catalogue has the sweep tables.

        Returns:
            True if the ``sweeps`` table exists.
        """
        with self.catalogue._connect() as conn:
            row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                               "name='sweeps'").fetchone()
        return row is not None

    def claim(self, sweep_id: str, kind: str, name: str, spec: dict[str, Any],
              tasks: list[tuple[int, str, dict[str, Any]]], executor: str,
              retry_failed: bool) -> bool:
        """Create the sweep (and its pending tasks) or take it over to resume it.

        Args:
            sweep_id: the sweep's id.
            kind: the task kind.
            name: the job name.
            spec: the sweep's :meth:`~valleys.runs.sweep_spec.SweepSpec.to_dict`.
            tasks: (index, key, grid point) of every task.
            executor: where the tasks run, in words.
            retry_failed: set failed tasks back to pending.

        Returns:
            True if the sweep is new.

        Raises:
            SweepBusyError: a live process is running this sweep.
            RunStoreError: the stored sweep has other tasks (a different spec).
        """
        host = current_host()
        now = format_time(utc_now())
        with self.catalogue._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT status, pid, host, boot_id FROM sweeps WHERE sweep_id=?",
                                   (sweep_id,)).fetchone()
                if row is None:
                    conn.execute(
                        f"INSERT INTO sweeps ({', '.join(_SWEEP_COLUMNS)}) VALUES "
                        f"({', '.join('?' for _ in _SWEEP_COLUMNS)})",
                        (sweep_id, kind, name, json.dumps(spec, sort_keys=True), S_RUNNING,
                         len(tasks), now, None, os.getpid(), host.host, host.boot_id, executor,
                         None, sweep_id))
                    conn.executemany(
                        "INSERT INTO sweep_tasks (sweep_id, idx, task_key, point, status) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [(sweep_id, i, k, json.dumps(p, sort_keys=True), T_PENDING)
                         for i, k, p in tasks])
                    conn.execute("COMMIT")
                    return True
                status, pid, owner_host, boot = row
                if status == S_RUNNING and pid != os.getpid() and not owner_is_dead(owner_host, boot, pid):
                    msg = (f"Sweep {sweep_id} is being run by process {pid} on {owner_host}. Wait "
                           "for it to finish (or stop it), then run the command again to resume.")
                    raise SweepBusyError(msg)
                stored = conn.execute("SELECT idx, task_key FROM sweep_tasks WHERE sweep_id=? "
                                      "ORDER BY idx", (sweep_id,)).fetchall()
                if [(i, k) for i, k in stored] != [(i, k) for i, k, _ in tasks]:
                    msg = (f"The stored sweep {sweep_id} has different tasks than this command "
                           "expands to. Delete its folder and catalogue rows or change the grid.")
                    raise RunStoreError(msg)
                conn.execute("UPDATE sweeps SET status=?, ended=NULL, pid=?, host=?, boot_id=?, "
                             "executor=?, message=NULL WHERE sweep_id=?",
                             (S_RUNNING, os.getpid(), host.host, host.boot_id, executor, sweep_id))
                if retry_failed:
                    conn.execute("UPDATE sweep_tasks SET status=?, message=NULL WHERE sweep_id=? "
                                 "AND status=?", (T_PENDING, sweep_id, T_FAILED))
                conn.execute("COMMIT")
                return False
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def record_task(self, sweep_id: str, idx: int, status: str, *, passed: bool | None = None,
                    summary: str | None = None, message: str | None = None,
                    wall_time_s: float | None = None, file: str | None = None,
                    worker: str | None = None) -> None:
        """Store a task's outcome (done with its verdict and file, or failed with its error).

        The task's end time is set to now and its attempt count grows by one.

        Args:
            sweep_id: the sweep.
            idx: the task's index.
            status: ``"done"`` or ``"failed"`` (one of :data:`TASK_STATUSES`).
            passed: whether its verdict agrees (done tasks), or None.
            summary: the verdict's one-line summary, or None.
            message: the error of a failed task, or None.
            wall_time_s: the task's wall time in seconds, or None.
            file: the task file's path relative to the sweep folder, or None.
            worker: where it ran (host and pid), or None.

        Raises:
            RunStoreError: the catalogue cannot be written (locked, damaged).
        """
        try:
            self._writer().execute(
                "UPDATE sweep_tasks SET status=?, passed=?, summary=?, message=?, wall_time_s=?, "
                "file=?, ended=?, attempts=attempts+1, worker=? WHERE sweep_id=? AND idx=?",
                (status, None if passed is None else int(passed), summary, message, wall_time_s,
                 file, format_time(utc_now()), worker, sweep_id, idx))
        except sqlite3.Error as exc:
            raise self.catalogue._error(exc) from exc

    def close(self) -> None:
        """Close the connection :meth:`record_task` keeps open during a sweep."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _writer(self) -> sqlite3.Connection:
        """One autocommit connection for the task updates of a running sweep.

        Opening a connection per update makes SQLite checkpoint and delete the WAL at
        every close; one connection avoids that. It never holds a transaction between
        statements, so other processes are not blocked. ``synchronous=NORMAL`` (safe in
        WAL mode: a crashed process loses nothing committed; a power cut may lose the
        last updates, whose tasks then run again) avoids an fsync per task.
        """
        if self._conn is None:
            self._conn = sqlite3.connect(self.catalogue.path, timeout=_BUSY_TIMEOUT_S,
                                         isolation_level=None)
            self._conn.execute("PRAGMA synchronous=NORMAL")
        return self._conn

    def finish(self, sweep_id: str, status: str, message: str | None = None) -> None:
        """Set the sweep's final status and end time.

        Args:
            sweep_id: the sweep.
            status: its final status (one of :data:`SWEEP_STATUSES`).
            message: why it ended so, or None.
        """
        with self.catalogue._connect() as conn:
            conn.execute("UPDATE sweeps SET status=?, ended=?, message=? WHERE sweep_id=?",
                         (status, format_time(utc_now()), message, sweep_id))

    def tasks(self, sweep_id: str) -> list[TaskRecord]:
        """Every task of a sweep, in order.

        Args:
            sweep_id: the full sweep id.

        Returns:
            The :class:`TaskRecord` of each task, by index.
        """
        with self.catalogue._connect() as conn:
            rows = conn.execute(f"SELECT {', '.join(_TASK_COLUMNS)} FROM sweep_tasks "
                                "WHERE sweep_id=? ORDER BY idx", (sweep_id,)).fetchall()
        out = []
        for row in rows:
            data = dict(zip(_TASK_COLUMNS, row, strict=True))
            data["point"] = json.loads(data["point"])
            data["passed"] = None if data["passed"] is None else bool(data["passed"])
            out.append(TaskRecord(**data))
        return out

    def get(self, sweep_id: str) -> SweepRecord | None:
        """The sweep ``sweep_id`` (exact id), or None.

        Args:
            sweep_id: the full sweep id.

        Returns:
            Its :class:`SweepRecord`, or None.
        """
        found = self._select("WHERE sweep_id=?", (sweep_id,))
        return found[0] if found else None

    def all(self) -> list[SweepRecord]:
        """Every sweep, newest first (none if the catalogue has no sweep tables).

        Returns:
            The :class:`SweepRecord` of every sweep, by start time then id.
        """
        if not self.exists():
            return []
        return self._select("ORDER BY started DESC, sweep_id DESC", ())

    def mark_stale(self) -> None:
        """Running sweeps whose driver died become ``stale`` (resumable).

        A read-only catalogue is left as it is (its sweeps still read ``running``).
        """
        if self.catalogue.read_only or not self.exists():
            return
        for record in self._select("WHERE status=?", (S_RUNNING,)):
            if owner_is_dead(record.host, record.boot_id, record.pid):
                msg = (f"The driver (pid {record.pid} on {record.host}) ended without finishing "
                       "the sweep; run the same command again to resume it.")
                with self.catalogue._connect() as conn:
                    conn.execute("UPDATE sweeps SET status=?, ended=?, message=? WHERE sweep_id=? "
                                 "AND status=? AND pid=?",
                                 (S_STALE, format_time(utc_now()), msg, record.sweep_id, S_RUNNING,
                                  record.pid))

    def _select(self, where: str, args: tuple) -> list[SweepRecord]:
        with self.catalogue._connect() as conn:
            rows = conn.execute(f"SELECT {', '.join(_SWEEP_COLUMNS)} FROM sweeps {where}",
                                args).fetchall()
            counts: dict[str, dict[str, int]] = {}
            for sid, status, n in conn.execute("SELECT sweep_id, status, COUNT(*) FROM sweep_tasks "
                                               "GROUP BY sweep_id, status").fetchall():
                counts.setdefault(sid, {})[status] = n
        out = []
        for row in rows:
            data = dict(zip(_SWEEP_COLUMNS, row, strict=True))
            data["spec"] = json.loads(data["spec"])
            data["path"] = self.root / data["path"]
            data["counts"] = counts.get(data["sweep_id"], {})
            out.append(SweepRecord(**data))
        return out
