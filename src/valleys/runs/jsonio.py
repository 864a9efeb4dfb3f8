"""Moved to :mod:`valleys.record.jsonio`; this module re-exports it."""

from ..record.jsonio import dumps, to_jsonable

__all__ = ["dumps", "to_jsonable"]
