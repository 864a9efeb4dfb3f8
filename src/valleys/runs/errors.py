"""The run store's own error: a run id that the catalogue does not hold."""

from __future__ import annotations

from ..errors import RunStoreError


class UnknownRunError(RunStoreError):
    """No run of the given id is in the catalogue."""


class DamagedRunError(RunStoreError):
    """A completed run's folder cannot be read back (missing or corrupt files)."""
