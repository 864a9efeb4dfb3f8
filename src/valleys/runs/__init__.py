"""The run store: run folders written atomically plus a SQLite catalogue of every run."""

from .errors import UnknownRunError
from .location import ENV_VAR, resolve_runs_dir
from .record import STATUSES, RunRecord
from .store import RunStore
from .stored import RunDetails
from .sweep import Sweeps, build_sweep
from .sweep_catalogue import SweepRecord

__all__ = ["RunStore", "RunRecord", "RunDetails", "STATUSES", "UnknownRunError", "resolve_runs_dir",
           "ENV_VAR", "Sweeps", "build_sweep", "SweepRecord"]
