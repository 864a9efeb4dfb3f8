"""The SQLite catalogue of runs (``valleys.db``, WAL mode): one row per run."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..errors import RunStoreError
from .record import RUNNING, RunRecord

DB_NAME = "valleys.db"
_BUSY_TIMEOUT_S = 30.0
_COLUMNS = ("run_id", "experiment", "params_hash", "status", "started", "ended", "pid",
            "verdict_summary", "path", "message", "host", "boot_id")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'passed', 'failed', 'undecided', 'error', 'stale', 'interrupted')),
    started TEXT NOT NULL,
    ended TEXT,
    pid INTEGER NOT NULL,
    verdict_summary TEXT,
    path TEXT NOT NULL,
    message TEXT,
    host TEXT NOT NULL DEFAULT '',
    boot_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status);
"""


def _add_undecided_status(conn: sqlite3.Connection) -> None:
    """Let a catalogue created before the ``undecided`` status store it.

    SQLite cannot change a CHECK constraint in place, so the table is rebuilt, rows
    unchanged, in one immediate transaction (other processes wait on the busy timeout).
    """
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='runs'").fetchone()
    if row is None or "'undecided'" in row[0]:
        return
    columns = ", ".join(_COLUMNS)
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='runs'").fetchone()
        if "'undecided'" not in row[0]:  # another process may have migrated it meanwhile
            conn.execute("ALTER TABLE runs RENAME TO runs_before_undecided")
            conn.execute("DROP INDEX IF EXISTS runs_by_status")
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"INSERT INTO runs ({columns}) SELECT {columns} FROM runs_before_undecided")
            conn.execute("DROP TABLE runs_before_undecided")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Catalogue:
    """Rows of ``runs`` in ``<root>/valleys.db``.

    Every method opens its own short connection (autocommit), so that a killed process
    never leaves a transaction open and several processes can share the store; WAL mode
    lets readers run while a writer commits.

    Args:
        root: the run store folder (must exist).
        read_only: open an existing catalogue without creating or changing its schema.

    Raises:
        RunStoreError: the database cannot be created, opened or is not a valleys
            catalogue (or, read-only, does not exist).
    """

    def __init__(self, root: Path, *, read_only: bool = False):
        self.root = Path(root)
        self.path = self.root / DB_NAME
        self.read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise RunStoreError(f"No run catalogue {self.path}: this folder holds no runs.")
            self.all()  # fail now, with a clear message, if it cannot be read
            return
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            _add_undecided_status(conn)

    def insert(self, record: RunRecord) -> None:
        """Add a new row.

        Args:
            record: the run's record (its id must be new).
        """
        values = self._values(record)
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._connect() as conn:
            conn.execute(f"INSERT INTO runs ({', '.join(_COLUMNS)}) VALUES ({marks})", values)

    def finish(self, run_id: str, status: str, ended: str, *, verdict_summary: str | None = None,
               message: str | None = None) -> None:
        """Set the final status, end time, verdict summary and message of a row.

        Args:
            run_id: the run.
            status: its final status.
            ended: the end time (ISO 8601, :func:`~valleys.runs.record.format_time`).
            verdict_summary: the one-line verdict, or None.
            message: the error message, or None.
        """
        with self._connect() as conn:
            conn.execute("UPDATE runs SET status=?, ended=?, verdict_summary=?, message=? "
                         "WHERE run_id=?", (status, ended, verdict_summary, message, run_id))

    def mark_if_running(self, run_id: str, status: str, ended: str, message: str) -> bool:
        """Move a row out of ``running`` (only if it still is); True if it changed.

        Args:
            run_id: the run.
            status: the new status.
            ended: the end time (ISO 8601).
            message: why the run ended so.

        Returns:
            True if the row was ``running`` and is now updated.
        """
        with self._connect() as conn:
            cur = conn.execute("UPDATE runs SET status=?, ended=?, message=? "
                               "WHERE run_id=? AND status=?",
                               (status, ended, message, run_id, RUNNING))
            return cur.rowcount == 1

    def get(self, run_id: str) -> RunRecord | None:
        """The row of ``run_id``, or None.

        Args:
            run_id: the full run id.

        Returns:
            Its :class:`RunRecord`, or None when there is no such row.
        """
        with self._connect() as conn:
            row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run_id=?",
                               (run_id,)).fetchone()
        return None if row is None else self._record(row)

    def all(self, status: str | None = None) -> list[RunRecord]:
        """Every row (optionally only those of one status), newest first.

        Args:
            status: only rows of this status (``"running"``, ``"passed"``, ...), or None for all.

        Returns:
            The :class:`RunRecord` of each row, by start time then id, newest first.
        """
        query = f"SELECT {', '.join(_COLUMNS)} FROM runs"
        args: tuple = ()
        if status is not None:
            query += " WHERE status=?"
            args = (status,)
        with self._connect() as conn:
            rows = conn.execute(query + " ORDER BY started DESC, run_id DESC", args).fetchall()
        return [self._record(r) for r in rows]

    def ids(self) -> list[str]:
        """Every run id.

        Returns:
            The ids of all rows, in no particular order.
        """
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT run_id FROM runs").fetchall()]

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._open()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        finally:
            conn.close()

    def _open(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        # Read-only: mode=ro needs the WAL's shared-memory file; in a folder we cannot write
        # it may be missing, and then the (consistent, checkpointed) file is read immutable.
        uri = self.path.resolve().as_uri()
        try:
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S,
                                   isolation_level=None)
            conn.execute("SELECT count(*) FROM runs").fetchone()
            return conn
        except sqlite3.OperationalError:
            return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)

    def _error(self, exc: sqlite3.Error) -> RunStoreError:
        text = str(exc)
        if "not a database" in text or "malformed" in text or "no such table" in text:
            advice = ("It is not a valleys catalogue (or it is damaged): move that file away, or "
                      "use --runs-dir or VALLEYS_RUNS to choose another folder.")
        elif "locked" in text or "busy" in text:
            advice = "Another valleys process holds it; try again when it has finished."
        elif "readonly" in text or "read-only" in text:
            advice = ("It can only be read here: 'valleys runs' and 'valleys show' still work, and "
                      "'valleys report --out DIR' writes the pages elsewhere.")
        else:
            advice = "Check the folder's permissions, or use --runs-dir or VALLEYS_RUNS."
        return RunStoreError(f"Cannot use the run catalogue {self.path}: {text}. {advice}")

    def _values(self, record: RunRecord) -> tuple:
        values = {c: getattr(record, c) for c in _COLUMNS}
        values["path"] = record.path.name
        return tuple(values[c] for c in _COLUMNS)

    def _record(self, row: tuple) -> RunRecord:
        data = dict(zip(_COLUMNS, row, strict=True))
        data["path"] = self.root / data["path"]
        return RunRecord(**data)
