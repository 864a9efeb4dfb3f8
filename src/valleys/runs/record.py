"""One row of the run catalogue, and how run ids are made."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RUNNING, PASSED, FAILED, UNDECIDED, ERROR, STALE, INTERRUPTED = (
    "running", "passed", "failed", "undecided", "error", "stale", "interrupted")
STATUSES = (RUNNING, PASSED, FAILED, UNDECIDED, ERROR, STALE, INTERRUPTED)
"""Run states: ``passed`` / ``failed`` / ``undecided`` are completed runs whose verdict
agrees / disagrees / decides nothing (not covered, inconclusive, no evidence)."""
COMPLETED = (PASSED, FAILED, UNDECIDED)


def completed_status(verdict: dict) -> str:
    """The run status of a completed run from its stored verdict (``verdict.json``).

    Runs stored before verdicts had an ``outcome`` are ``passed`` or ``failed``.

    Args:
        verdict: the stored verdict dict (``passed``, ``outcome``).

    Returns:
        ``"passed"``, ``"failed"`` (outcome ``disagrees``) or ``"undecided"``.
    """
    if verdict.get("passed"):
        return PASSED
    outcome = verdict.get("outcome", "disagrees")
    return FAILED if outcome in ("disagrees", "measurement failed") else UNDECIDED

FAILED_LOGS_DIR = "logs"
"""Folder of the store holding ``<run-id>.log.txt`` of the runs that did not complete."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RunRecord:
    """What the catalogue knows about one run.

    Args:
        run_id: ``<experiment>-<UTC timestamp>-<hex>``, also the run folder's name.
        experiment: the registered experiment name.
        params_hash: SHA-256 of the parameters' JSON.
        status: one of :data:`STATUSES`.
        started: ISO 8601 UTC start time.
        ended: ISO 8601 UTC end time (None while running).
        pid: the process that ran it.
        verdict_summary: e.g. ``"agrees (3/3 evidence checks passed)"`` (None unless completed).
        path: the run folder (it exists only for completed runs).
        message: the error message of a run that raised, else None.
        host: the host name of the process that ran it.
        boot_id: the kernel boot id of that host at the time (may be empty).
    """

    run_id: str
    experiment: str
    params_hash: str
    status: str
    started: str
    ended: str | None
    pid: int
    verdict_summary: str | None
    path: Path
    message: str | None = None
    host: str = ""
    boot_id: str = ""

    @property
    def completed(self) -> bool:
        """Whether the run finished and its folder holds a result."""
        return self.status in COMPLETED

    @property
    def report_path(self) -> Path:
        """The run's HTML report (present only for completed runs)."""
        return self.path / "report.html"

    @property
    def log_path(self) -> Path:
        """The run's log: ``<run>/log.txt``, or ``<store>/logs/<run-id>.log.txt`` for a run
        that raised or was interrupted (it may be absent for stale runs)."""
        if self.completed:
            return self.path / "log.txt"
        return self.path.parent / FAILED_LOGS_DIR / f"{self.run_id}.log.txt"

    @property
    def wall_time(self) -> float | None:
        """Seconds between start and end, None while running."""
        if self.ended is None:
            return None
        return (parse_time(self.ended) - parse_time(self.started)).total_seconds()


def utc_now() -> datetime:
    """The current time in UTC.

    Returns:
        An aware datetime.
    """
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """ISO 8601 with microseconds and an explicit UTC offset.

    Args:
        moment: an aware datetime.

    Returns:
        The time in UTC, e.g. ``2026-01-02T03:04:05.000006+00:00``.
    """
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`.

    Args:
        text: an ISO 8601 time.

    Returns:
        The datetime.
    """
    return datetime.fromisoformat(text)


def new_run_id(experiment: str, moment: datetime) -> str:
    """``<experiment>-<YYYYmmddTHHMMSSfff>Z-<6 hex>``: sortable by time per experiment.

    Characters of the experiment name that are unsafe in a file name are replaced by
    ``_`` so that the id is always a valid single folder name.

    Args:
        experiment: the experiment's name.
        moment: the run's start time.

    Returns:
        The new id (with 6 random hex digits).
    """
    safe = _UNSAFE.sub("_", experiment).strip("._") or "run"
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"
    return f"{safe}-{stamp}-{secrets.token_hex(3)}"
