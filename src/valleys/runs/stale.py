"""Recover from runs whose process died: mark them stale and delete their tmp folders."""

from __future__ import annotations

import contextlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from .._atomic import PART_SUFFIX
from .catalogue import Catalogue
from .liveness import owner_is_dead
from .record import RUNNING, STALE, RunRecord, completed_status, format_time, parse_time, utc_now
from .runlog import LOG_NAME
from .stored import read_json
from .writer import VERDICT_NAME

TMP_PREFIX = ".tmp-"


def tmp_folder(root: Path, run_id: str) -> Path:
    """The temporary folder a run writes into before it is renamed to ``root/run_id``.

    Args:
        root: the run store's folder.
        run_id: the run.

    Returns:
        ``root / (TMP_PREFIX + run_id)``.
    """
    return root / f"{TMP_PREFIX}{run_id}"


def cleanup_stale(catalogue: Catalogue) -> list[RunRecord]:
    """Close the rows of dead runs and remove leftover temporary folders.

    A ``running`` row whose process is gone (see :mod:`valleys.runs.liveness`) becomes
    ``stale``, unless its folder was already renamed into place (the process died after
    the rename, before the catalogue update): then its stored verdict decides ``passed``
    or ``failed``. ``.tmp-*`` folders of rows that are not running, or of no row at all,
    are deleted. The partial log of a dead run is kept as ``logs/<run-id>.log.txt``.

    Args:
        catalogue: the store's catalogue.

    Returns:
        The rows that changed, as they are now.
    """
    root = catalogue.root
    changed = []
    for record in catalogue.all(status=RUNNING):
        if not owner_is_dead(record.host, record.boot_id, record.pid):
            continue
        ended = last_heartbeat(root, record)
        _keep_log(root, record)
        if _close(catalogue, record, ended):
            changed.append(catalogue.get(record.run_id))
        shutil.rmtree(tmp_folder(root, record.run_id), ignore_errors=True)
    _remove_orphans(catalogue)
    return changed


def _keep_log(root: Path, record: RunRecord) -> None:
    part = tmp_folder(root, record.run_id) / (LOG_NAME + PART_SUFFIX)
    if part.is_file():
        with contextlib.suppress(OSError):
            record.log_path.parent.mkdir(exist_ok=True)
            os.replace(part, record.log_path)


def last_heartbeat(root: Path, record: RunRecord) -> str:
    """When a dead run was last alive: the modification time of its log (touched every few
    seconds while it ran, see ``RunStore``), else its start. Never the moment the death
    was noticed, so that its wall time is not inflated.

    Args:
        root: the run store's folder.
        record: the dead run's record.

    Returns:
        The time as ISO 8601 text (never before the run's start).
    """
    part = tmp_folder(root, record.run_id) / (LOG_NAME + PART_SUFFIX)
    for path in (part, record.log_path):
        with contextlib.suppress(OSError):
            moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            return format_time(max(moment, parse_time(record.started)))
    return record.started


def _close(catalogue: Catalogue, record: RunRecord, ended: str | None = None) -> bool:
    ended = ended or format_time(utc_now())
    verdict_file = record.path / VERDICT_NAME
    if verdict_file.is_file():
        verdict = read_json(verdict_file)
        status = completed_status(verdict)
        catalogue.finish(record.run_id, status, ended, verdict_summary=verdict.get("summary"))
        return True
    msg = (f"The process (pid {record.pid} on {record.host or 'an unknown host'}) running "
           "this run ended without recording a result; it was probably killed.")
    return catalogue.mark_if_running(record.run_id, STALE, ended, msg)


def _remove_orphans(catalogue: Catalogue) -> None:
    for folder in catalogue.root.glob(f"{TMP_PREFIX}*"):
        record = catalogue.get(folder.name[len(TMP_PREFIX):])
        if record is None or record.status != RUNNING:
            shutil.rmtree(folder, ignore_errors=True)
