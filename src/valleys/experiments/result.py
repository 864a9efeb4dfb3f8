"""Moved to :mod:`valleys.record.result`; this module re-exports it."""

from ..record.result import *  # noqa: F403
