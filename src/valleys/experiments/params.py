"""Moved to :mod:`valleys.record.params`; this module re-exports it."""

from ..record.params import *  # noqa: F403
from ..record.params import (  # noqa: F401
    _HINTS,
    _hints,
    _one_line,
    _plain,
    _type_problem,
)
