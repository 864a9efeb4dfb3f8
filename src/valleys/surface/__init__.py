"""1-D and 2-D slices of a landscape (Li et al.'s filter-normalised planes and more).

:func:`line`, :func:`plane`, :func:`plane_through` evaluate the loss on a grid through
the core's one plane evaluator (:mod:`valleys.core.plane`) and return a :class:`Surface` (DataFrame,
``.npz`` with the directions, figures); :func:`direction` and
:func:`hessian_directions` make the directions; :func:`parse_grid` reads ``"min:max:num"``.
"""

from .slices import NORMALIZATIONS, Surface, direction, hessian_directions, line, parse_grid, plane, plane_through

__all__ = ["Surface", "line", "plane", "plane_through", "direction", "hessian_directions", "parse_grid",
           "NORMALIZATIONS"]
