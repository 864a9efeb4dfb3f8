"""The run store's own error: a run id that the catalogue does not hold."""

from __future__ import annotations

from ..errors import RunStoreError


class UnknownRunError(RunStoreError):
    """No run of the given id is in the catalogue."""


class DamagedRunError(RunStoreError):
    """A completed run's folder cannot be read back (missing or corrupt files)."""


class SurfaceTooLargeError(RunStoreError):
    """A stored surface has more grid points than a report page shows (see
    :data:`valleys.runs.surface_cap.MAX_SURFACE_POINTS`)."""


class ReportWarning(UserWarning):
    """A part of a run (a figure or surface) was left out of its report page."""
