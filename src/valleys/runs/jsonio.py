"""JSON of run files: re-exports the one converter of :mod:`valleys.results`."""

from ..results import dumps, to_jsonable

__all__ = ["dumps", "to_jsonable"]
