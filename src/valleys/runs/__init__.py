"""The run store: run folders written atomically plus a SQLite catalogue of every run.

``RunStore`` and ``RunDetails`` are imported on first use, so that light submodules
(``provenance``, ``location``) load without pandas or torch (``valleys version``).
"""

from .errors import UnknownRunError
from .location import ENV_VAR, resolve_runs_dir
from .record import STATUSES, RunRecord

__all__ = ["RunStore", "RunRecord", "RunDetails", "STATUSES", "UnknownRunError", "resolve_runs_dir",
           "ENV_VAR", "Sweeps", "build_sweep", "SweepRecord"]


def __getattr__(name: str):
    if name == "RunStore":
        from .store import RunStore

        return RunStore
    if name == "RunDetails":
        from .stored import RunDetails

        return RunDetails
    if name in ("Sweeps", "build_sweep"):
        from . import sweep

        return getattr(sweep, name)
    if name == "SweepRecord":
        from .sweep_catalogue import SweepRecord

        return SweepRecord
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
