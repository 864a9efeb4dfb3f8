"""Landscape core: a functional view of (model, data, loss) over a flat parameter vector."""

from .landscape import MAX_DENSE_DIM, Landscape
from .layout import ParamLayout

__all__ = ["Landscape", "ParamLayout", "MAX_DENSE_DIM"]
