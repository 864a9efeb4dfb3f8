"""Moved to :mod:`valleys.record.result`; this module re-exports it."""

from ..record.result import *  # noqa: F403
from ..record.result import _jsonable  # noqa: F401
