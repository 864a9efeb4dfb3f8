"""The run store: execute an experiment, store everything it produced, list and load runs.

It runs anything with a name, params and ``run()`` (:class:`valleys.record.Runnable`) and
renders its pages through the registered page renderer (:mod:`.pages`).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from tqdm import tqdm

from .._atomic import atomic_path, fsync_dir, write_text
from ..errors import InvalidParameterError, RunStoreError
from ..record import Params, Result, Runnable
from . import writer
from .catalogue import Catalogue
from .errors import DamagedRunError, ReportWarning, UnknownRunError
from .liveness import current_host
from .location import resolve_runs_dir
from .pages import RunPage, renderer
from .provenance import host_facts, package_versions
from .record import (
    ERROR,
    INTERRUPTED,
    RUNNING,
    RunRecord,
    completed_status,
    format_time,
    new_run_id,
    utc_now,
)
from .runfiles import read_run_bytes
from .runlog import RunLog
from .stale import cleanup_stale, tmp_folder
from .stored import RunDetails, read_details, read_page, read_result
from .surface_cap import MAX_SURFACE_POINTS, limit_surfaces

INDEX_NAME = "index.html"
REPORT_NAME = "report.html"
_STAGES = ("experiment", "table", "verdict", "figures", "report")


class RunStore:
    """A folder of runs with a SQLite catalogue.

    Layout: ``<root>/valleys.db`` (catalogue), ``<root>/index.html`` and one folder per
    completed run, ``<root>/<run-id>/`` with ``params.json``, ``results.parquet``,
    ``verdict.json``, ``figures/*.png``, ``report.html``, ``log.txt`` and
    ``metadata.json``. A run is written into ``<root>/.tmp-<run-id>/`` and renamed into
    place only when complete; the log of a run that raised, was interrupted or died is
    kept as ``<root>/logs/<run-id>.log.txt``. Opening the store closes the rows of runs
    whose process died (see :meth:`cleanup_stale`).

    A running run touches its log every :data:`HEARTBEAT_S` seconds; a run found dead
    ends at its last heartbeat. The index carries a digest of the catalogue and is
    rewritten whenever a store is opened and finds it behind (a kill between the
    catalogue update and the index write).

    Args:
        root: the store folder; None means ``$VALLEYS_RUNS`` or else ``./runs``. It is
            created if missing (unless read-only).
        read_only: open the catalogue read-only (SQLite ``mode=ro``): runs can be listed,
            shown and reported to another folder (``write_index(out=...)``), nothing is
            written into the store. None: read-only exactly when the folder exists and
            cannot be written.

    Raises:
        RunStoreError: the folder cannot be created or written (when not read-only), or
            its catalogue is not a valleys database.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, read_only: bool | None = False):
        self.root = resolve_runs_dir(root)
        if read_only is None:
            read_only = self.root.exists() and not _writable(self.root)
        self.read_only = bool(read_only)
        if self.read_only:
            self.catalogue = Catalogue(self.root, read_only=True)
            return
        self._ensure_writable()
        self.catalogue = Catalogue(self.root)
        if not self.cleanup_stale() and self._index_behind():
            self.write_index()

    def execute(self, experiment: Runnable, params: Params | None = None, *,
                progress: bool = True,
                on_start: Callable[[RunRecord], None] | None = None) -> RunRecord:
        """Run ``experiment`` with ``params`` and store the run.

        Args:
            experiment: what to run: anything with a name, source, claim, params class and
                ``run(params)`` (:class:`valleys.record.Runnable`; a registered experiment,
                or an analysis from :meth:`valleys.analysis.stored.PreparedAnalysis.experiment`).
            params: its parameters (None means the full defaults).
            progress: show a stage bar on stderr (only when stderr is a terminal).
            on_start: called with the ``running`` record once the run is catalogued.

        Returns:
            The catalogue record of the completed run: ``passed`` if the verdict agrees,
            ``failed`` if it disagrees.

        Raises:
            InvalidParameterError: ``params`` is not the experiment's Params class.
            KeyboardInterrupt: re-raised after recording the run as ``interrupted``.
            Exception: whatever the experiment raised, re-raised after recording the run as
                ``error`` (with the message) and deleting its temporary folder.
        """
        params = self._check_params(experiment, params)
        if self.read_only:
            raise RunStoreError(f"The run store {self.root} is open read-only; use --runs-dir "
                                "or VALLEYS_RUNS to choose a writable folder for new runs.")
        record = self._start(experiment, params)
        tmp = tmp_folder(self.root, record.run_id)
        try:
            tmp.mkdir()
            log = RunLog(tmp)
        except OSError as exc:
            self._abort(record, tmp, None, ERROR, f"{type(exc).__name__}: {exc}")
            raise self._unwritable(exc) from exc
        try:
            if on_start is not None:
                on_start(record)
            with _Heartbeat(log):
                status, summary = self._run_and_write(experiment, params, record, tmp, log,
                                                      progress)
        except KeyboardInterrupt as exc:
            how = f"by {exc}" if str(exc) else "by the user (Ctrl-C)"
            self._abort(record, tmp, log, INTERRUPTED, f"Interrupted {how}.")
            raise
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"
            self._abort(record, tmp, log, ERROR, message)
            exc.add_note(f"valleys: run {record.run_id} recorded with status 'error'.")
            raise
        self.catalogue.finish(record.run_id, status, format_time(utc_now()),
                              verdict_summary=summary)
        self.write_index()
        return self.get(record.run_id)

    def list(self, experiment: str | None = None) -> list[RunRecord]:
        """Every run of the catalogue (optionally of one experiment), newest first.

        Args:
            experiment: only the runs of this experiment, or None for all.

        Returns:
            The run records.
        """
        runs = self.catalogue.all()
        return runs if experiment is None else [r for r in runs if r.experiment == experiment]

    def get(self, run_id: str) -> RunRecord:
        """The record of ``run_id`` (a unique prefix of a run id is accepted).

        Args:
            run_id: the run id or a unique prefix of it.

        Returns:
            The :class:`~valleys.runs.record.RunRecord`.

        Raises:
            UnknownRunError: no run (or more than one run) matches; the message suggests close ids.
        """
        record = self.catalogue.get(run_id)
        if record is not None:
            return record
        ids = self.catalogue.ids()
        matches = sorted(i for i in ids if i.startswith(run_id)) if run_id else []
        if len(matches) == 1:
            return self.catalogue.get(matches[0])
        if matches:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            msg = (f"Run id prefix {run_id!r} matches {len(matches)} runs ({shown}). "
                   "Give more characters of the run id.")
            raise UnknownRunError(msg)
        close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.6)
        hint = (f" Did you mean: {', '.join(close)}?" if close
                else " Run 'valleys runs' to list the stored runs.")
        raise UnknownRunError(f"No run with id {run_id!r} in {self.root}.{hint}")

    def details(self, run_id: str) -> RunDetails:
        """A run's record with its stored parameters, verdict and metadata.

        Args:
            run_id: the run id or a unique prefix of it.

        Returns:
            The :class:`~valleys.runs.stored.RunDetails` (empty dicts for a run that did not
            complete).

        Raises:
            UnknownRunError: no such run.
            RunStoreError: the run folder is damaged.
        """
        return read_details(self.get(run_id))

    def load_result(self, run_id: str) -> Result:
        """The stored result of a completed run (figures as file paths in its metadata).

        Args:
            run_id: the run id or a unique prefix of it.

        Returns:
            The :class:`~valleys.record.Result` (see :func:`~valleys.runs.stored.read_result`).

        Raises:
            UnknownRunError: no such run.
            RunStoreError: the run did not complete, or its folder is damaged.
        """
        record = self._completed(run_id)
        return read_result(record.path)

    def cleanup_stale(self) -> list[RunRecord]:
        """Mark runs whose process died as ``stale`` and delete their ``.tmp-*`` folders.

        Liveness is decided by host name, kernel boot id and ``os.kill(pid, 0)``; a dead
        run's pid reused by an unrelated live process keeps it ``running`` until that
        process ends (an accepted risk). Runs recorded on another host are left alone.

        Returns:
            The records that changed.
        """
        if self.read_only:
            return []
        changed = cleanup_stale(self.catalogue)
        if changed:
            self.write_index()
        return changed

    def write_index(self, out: str | os.PathLike | None = None, *,
                    skip: frozenset[str] = frozenset()) -> Path:
        """(Re)write ``index.html`` listing every run, newest first.

        Args:
            out: the folder to write it into (default: the store; required when the store
                is read-only). Completed runs link to ``<run_id>/report.html`` under ``out``
                when that page exists there, else to the store's copy.
            skip: run ids whose folder is damaged: listed without a link.

        Returns:
            The path of the written ``index.html``.

        Raises:
            RunStoreError: the store is read-only and no ``out`` is given, or the index cannot
                be written.
        """
        records = self.list()
        folder = self.root if out is None else Path(out)
        if out is None and self.read_only:
            raise RunStoreError(f"The run store {self.root} is read-only: write the index "
                                "elsewhere with 'valleys report --out DIR'.")
        links = sweep_links = None
        sweeps = self._sweeps()
        if folder.resolve() != self.root.resolve():
            links = {r.run_id: _link(folder, r) for r in records if r.completed}
            sweep_links = {sw.sweep_id: self._sweep_link(folder, sw.sweep_id) for sw in sweeps}
        path = folder / INDEX_NAME
        try:
            folder.mkdir(parents=True, exist_ok=True)
            text = renderer().render_index(records, links=links, broken=skip, sweeps=sweeps, sweep_links=sweep_links)
            write_text(path, text + f"\n<!-- {_INDEX_MARK} {_digest(records)} -->\n")
        except OSError as exc:
            raise self._unwritable(exc, folder) from exc
        return path

    def _sweeps(self) -> list:
        from .sweep import Sweeps  # sweeps live in the same catalogue (their own tables)

        return Sweeps(self, create=False).catalogue.all()

    def _sweep_link(self, folder: Path, sweep_id: str) -> str | None:
        """Where an index in ``folder`` (outside the store) links a sweep: its page there,
        else the store's page (a regular file, not a link), else nowhere."""
        if (folder / sweep_id / REPORT_NAME).is_file():
            return f"{quote(sweep_id)}/{REPORT_NAME}"
        page = self.root / sweep_id / REPORT_NAME
        if page.is_symlink() or not page.is_file():
            return None
        return page.resolve().as_uri()

    def rebuild_report(self, run_id: str, out: str | os.PathLike | None = None, *,
                       max_surface_points: int = MAX_SURFACE_POINTS,
                       warn: Callable[[str], None] | None = None) -> Path:
        """Re-render a completed run's ``report.html`` from its stored files.

        Nothing is read through a symbolic link (see :mod:`.runfiles`): a figure or surface
        that is a link, not a regular file or outside the run folder is left out of the
        page, as is a surface beyond ``max_surface_points``; each is noted on the page and
        passed to ``warn``.

        Args:
            run_id: the run.
            out: write ``<out>/<run_id>/report.html`` (with a copy of the figures the page
                shows) instead of the page in the run folder (required when the store is
                read-only).
            max_surface_points: the most grid points of all surfaces on the page together
                (:data:`~valleys.runs.surface_cap.MAX_SURFACE_POINTS`).
            warn: called with one line per thing left out (default: ``warnings.warn`` with
                :class:`~valleys.runs.errors.ReportWarning`).

        Raises:
            RunStoreError: the run folder is damaged or the destination cannot be written.

        Returns:
            The path of the written ``report.html``.
        """
        record = self._completed(run_id)
        if out is None and self.read_only:
            raise RunStoreError(f"The run store {self.root} is read-only: write the reports "
                                "elsewhere with 'valleys report --all --out DIR'.")
        try:
            page = read_page(record, max_surface_points=max_surface_points)
            html = renderer().render_run(page)
        except RunStoreError:
            raise
        except Exception as exc:  # a folder damaged in a way the readers did not foresee
            msg = (f"Cannot rebuild the report of run {record.run_id} from {record.path}: "
                   f"{type(exc).__name__}: {exc}. The run folder is damaged.")
            raise DamagedRunError(msg) from exc
        for note in page.notes:
            (warn or _warn)(f"run {record.run_id}: {note}")
        if out is None:
            path = record.report_path
        else:
            path = Path(out) / record.run_id / REPORT_NAME
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                for rel in dict.fromkeys(page.figures.values()):
                    _copy_run_file(record.path, rel, path.parent)
            except DamagedRunError:
                raise
            except OSError as exc:
                raise self._unwritable(exc, path.parent) from exc
        if page.surfaces:
            try:
                renderer().ensure_plotly_asset(self.root if out is None else Path(out))
            except OSError as exc:
                raise self._unwritable(exc, path.parent.parent) from exc
        write_text(path, html)
        return path

    def rebuild_reports(self, out: str | os.PathLike | None = None, *,
                        max_surface_points: int = MAX_SURFACE_POINTS,
                        warn: Callable[[str], None] | None = None) -> dict[str, str]:
        """Re-render every completed run's report (see :meth:`rebuild_report`), skipping run
        folders that cannot be read.

        Args:
            out: as in :meth:`rebuild_report`.
            max_surface_points: as in :meth:`rebuild_report`.
            warn: as in :meth:`rebuild_report`.

        Returns:
            run id -> why it was skipped (empty when every report was rebuilt).

        Raises:
            RunStoreError: a destination cannot be written.
        """
        skipped = {}
        for record in self.list():
            if not record.completed:
                continue
            if not record.path.is_dir():
                skipped[record.run_id] = f"its folder {record.path} is missing"
                continue
            try:
                self.rebuild_report(record.run_id, out=out, max_surface_points=max_surface_points,
                                    warn=warn)
            except DamagedRunError as exc:
                skipped[record.run_id] = str(exc)
        return skipped

    def _index_behind(self) -> bool:
        """Whether ``index.html`` is missing or was written for another catalogue state."""
        path = self.root / INDEX_NAME
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return True
        return f"<!-- {_INDEX_MARK} {_digest(self.list())} -->" not in text

    # -- internals ---------------------------------------------------------------------

    def _ensure_writable(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        if not _writable(self.root):
            raise self._unwritable(PermissionError(13, "permission denied"))

    def _unwritable(self, exc: OSError, where: Path | None = None) -> RunStoreError:
        reason = exc.strerror or str(exc)
        if where is not None and where != self.root:
            return RunStoreError(f"Cannot write {where}: {reason}. Choose another --out folder.")
        msg = (f"Cannot write the run store at {self.root}: {reason}. Use --runs-dir or "
               "VALLEYS_RUNS to choose a writable folder ('valleys runs', 'show' and "
               "'report --out DIR' can still read it).")
        return RunStoreError(msg)

    def _check_params(self, experiment: Runnable, params: Params | None) -> Params:
        if params is None:
            return experiment.params()
        if not isinstance(params, experiment.params):
            msg = (f"Experiment {experiment.name!r} takes {experiment.params.__name__} "
                   f"parameters. Got {type(params).__name__}.")
            raise InvalidParameterError(msg)
        return params

    def _start(self, experiment: Runnable, params: Params) -> RunRecord:
        started = utc_now()
        host = current_host()
        run_id = new_run_id(experiment.name, started)
        record = RunRecord(run_id=run_id, experiment=experiment.name,
                           params_hash=hashlib.sha256(params.to_json().encode()).hexdigest(),
                           status=RUNNING, started=format_time(started), ended=None,
                           pid=os.getpid(), verdict_summary=None, path=self.root / run_id,
                           host=host.host, boot_id=host.boot_id)
        self.catalogue.insert(record)
        return record

    def _run_and_write(self, experiment: Runnable, params: Params, record: RunRecord,
                       tmp: Path, log: RunLog, progress: bool) -> tuple[str, str]:
        bar = tqdm(total=len(_STAGES), desc=experiment.name, unit="stage", leave=False,
                   file=sys.stderr, disable=None if progress else True)
        try:
            log.write(f"start {record.run_id} (experiment {experiment.name}, pid {record.pid})")
            log.write(f"params {params.to_json()}")
            result, wall, caught = _call(experiment, params, log)
            bar.update()
            try:
                return self._write_files(experiment, params, record, tmp, log, bar,
                                         (result, wall, caught))
            except OSError as exc:  # the experiment succeeded; the store could not keep it
                raise self._unwritable(exc) from exc
            finally:
                writer.close_figures(result.figures)
        finally:
            bar.close()

    def _write_files(self, experiment: Runnable, params: Params, record: RunRecord,
                     tmp: Path, log: RunLog, bar: tqdm,
                     outcome: tuple[Result, float, list[str]]) -> tuple[str, str]:
        result, wall, caught = outcome
        _log_checks(log, result)
        writer.write_params(tmp, params)
        metadata = self._metadata(experiment, params, record, result, wall, caught)
        metadata["table_columns_as_text"] = writer.write_table(tmp, result.table)
        bar.update()
        writer.write_verdict(tmp, result.verdict)
        bar.update()
        metadata["figures"] = writer.save_figures(tmp, result.figures)
        metadata["surfaces"] = writer.save_surfaces(tmp, result.surfaces)
        bar.update()
        writer.write_metadata(tmp, metadata)
        status = completed_status(result.verdict.to_dict())
        surfaces, notes = limit_surfaces(writer.surface_arrays(result.surfaces))
        for note in notes:
            log.write(f"report: {note}")
        page = RunPage(record.run_id, experiment.name, experiment.source, experiment.claim,
                       status, params.to_dict(), result.verdict.to_dict(), result.table,
                       metadata["figures"], metadata, record.started, surfaces, tuple(notes))
        pages = renderer()
        if page.surfaces:
            pages.ensure_plotly_asset(self.root)
        write_text(tmp / REPORT_NAME, pages.render_run(page))
        bar.update()
        log.write(f"verdict {result.verdict.summary}; wall time {wall:.3f} s")
        log.close()
        os.replace(tmp, record.path)
        fsync_dir(self.root)
        return status, result.verdict.summary

    def _metadata(self, experiment: Runnable, params: Params, record: RunRecord,
                  result: Result, wall: float, caught: list[str]) -> dict:
        return {"run_id": record.run_id, "experiment": experiment.name,
                "source": experiment.source, "claim": experiment.claim,
                "seed": params.seed, "params_hash": record.params_hash,
                "started": record.started, "ended": format_time(utc_now()),
                "wall_time_s": wall, "pid": record.pid, "versions": package_versions(),
                "host": host_facts(), "warnings": caught, "result": result.metadata}

    def _abort(self, record: RunRecord, tmp: Path, log: RunLog | None, status: str,
               message: str) -> None:
        if log is not None:
            log.write(f"{status}: {message}")
            if status == ERROR:
                log.write(traceback.format_exc().rstrip())
            log.keep_as(record.log_path)
        shutil.rmtree(tmp, ignore_errors=True)
        self.catalogue.finish(record.run_id, status, format_time(utc_now()), message=message)
        try:
            self.write_index()
        except RunStoreError:
            pass  # the run's own failure is the error to report

    def _completed(self, run_id: str) -> RunRecord:
        record = self.get(run_id)
        if not record.completed or not record.path.is_dir():
            msg = (f"Run {record.run_id} has status {record.status!r} and no stored result. "
                   "Only passed or failed runs have one.")
            raise RunStoreError(msg)
        return record



HEARTBEAT_S = 5.0
"""Seconds between two touches of a running run's log (its heartbeat)."""

_INDEX_MARK = "valleys-index"


class _Heartbeat:
    """Touch the run's log every HEARTBEAT_S seconds from a daemon thread, so that a run
    killed without notice ends, in the catalogue, at its last sign of life."""

    def __init__(self, log: RunLog):
        self.log = log
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="valleys-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_S):
            self.log.touch()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _writable(root: Path) -> bool:
    db = root / "valleys.db"
    return os.access(root, os.W_OK | os.X_OK) and (not db.exists() or os.access(db, os.W_OK))


def _digest(records) -> str:
    text = "\n".join(f"{r.run_id} {r.status} {r.ended}" for r in records)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _link(folder: Path, record: RunRecord) -> str:
    local = folder / record.run_id / REPORT_NAME
    return f"{record.run_id}/{REPORT_NAME}" if local.is_file() else record.report_path.resolve().as_uri()


def _warn(message: str) -> None:
    warnings.warn(message, ReportWarning, stacklevel=3)


def _copy_run_file(folder: Path, rel: str, dest: Path) -> None:
    """Copy the run file ``rel`` (read without following links) to ``dest / rel``, atomically."""
    data = read_run_bytes(folder, rel)
    target = dest / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def _call(experiment: Runnable, params: Params, log: RunLog) -> tuple[Result, float, list[str]]:
    """Run the experiment, timing it and recording its warnings into the log."""
    with warnings.catch_warnings(record=True) as caught:
        t0 = time.perf_counter()
        result = experiment.run(params)
        wall = time.perf_counter() - t0
    if not isinstance(result, Result):
        msg = (f"Experiment {experiment.name!r} must return a valleys Result. "
               f"Got {type(result).__name__}.")
        raise TypeError(msg)
    texts = [f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})"
             for w in caught]
    for text in texts:
        log.write(f"warning {text}")
    return result, wall, texts


def _log_checks(log: RunLog, result: Result) -> None:
    for check in result.verdict.checks:
        word = "PASS" if check.passed else ("FAIL" if check.status == "failed" else check.status.upper())
        log.write(f"check {word} {check.name}: measured {check.measured!r}, expected "
                  f"{check.expected!r}, tolerance {check.tolerance!r}")
