"""The log of one run: time-stamped lines appended to ``log.txt`` in the run's tmp folder."""

from __future__ import annotations

import os
from pathlib import Path

from .._atomic import PART_SUFFIX
from .record import format_time, utc_now

LOG_NAME = "log.txt"


class RunLog:
    """Append-only log lines, flushed as they come so that a hung run can be inspected.

    The lines go to ``log.txt.part`` inside the run's temporary folder; :meth:`close`
    renames it to ``log.txt`` (the whole folder only becomes visible at the end).

    Args:
        folder: the run's temporary folder.
    """

    def __init__(self, folder: Path):
        self.final = Path(folder) / LOG_NAME
        self._part = self.final.with_name(LOG_NAME + PART_SUFFIX)
        self._handle = open(self._part, "a", encoding="utf-8")
        self.lines: list[str] = []

    def write(self, message: str) -> None:
        """Add one line (newlines inside ``message`` are kept, indented).

        The line starts with the current UTC time and is flushed at once.

        Args:
            message: the text to log.
        """
        text = message.replace("\n", "\n    ")
        line = f"{format_time(utc_now())} {text}"
        self.lines.append(line)
        self._handle.write(line + "\n")
        self._handle.flush()

    def touch(self) -> None:
        """Refresh the log's modification time (the run's heartbeat); never raises."""
        try:
            os.utime(self._part)
        except OSError:
            pass

    def close(self) -> None:
        """Flush to disk and rename to ``log.txt``."""
        if self._handle.closed:
            return
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._part, self.final)

    def keep_as(self, path: Path) -> Path | None:
        """Close and move the log to ``path`` (the log of a run that did not complete).

        Args:
            path: where to keep the log (its folder is created if needed).

        Returns:
            ``path``, or None if the log could not be moved (it is then lost with the
            run's temporary folder; the catalogue still holds the error message).
        """
        if not self._handle.closed:
            self._handle.close()
        try:
            path.parent.mkdir(exist_ok=True)
            os.replace(self._part, path)
        except OSError:
            return None
        return path
