"""Polygons inscribed in a curve, refined until every chord passes an exact test.

A construction that is a curve in parameter space (rotations, matrix square roots,
pseudo-inverses) cannot be certified as it stands. Where the curve has slack (the loss
strictly decreases along it, or stays strictly inside a sublevel set), the polygon
through enough of its points keeps the property, and on each straight chord the loss
of a piecewise-polynomial net is exactly known (:mod:`._exact`). :func:`inscribe`
bisects the chords that fail until all pass or ``max_chords`` is reached; the caller
then proves the whole polygon with :func:`valleys.paths.certify`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from ..nets.netspec import net_spec
from ._exact import ExactSegment, NotExact, PieceBudget
from .path import Segment


def _extreme_values(coef: np.ndarray, s0: float, s1: float) -> list[float]:
    from .certify import _extremes  # the certificate's own analysis of a polynomial piece

    return _extremes(coef, s0, s1)


class ChordTest:
    r"""Exact tests of a straight chord P -> Q of a piecewise-polynomial net.

    ``rise(P, Q)``: the largest increase \(\sup_{s \le t} L(t) - L(s)\) on the chord;
    ``peak(P, Q)``: the largest value. Both are inf when the chord is not exact.

    Args:
        land: the landscape (exact only for the nets :func:`~valleys.nets.netspec.net_spec`
            recognises).
        max_pieces: most polynomial pieces of one chord before it counts as not exact.
    """

    def __init__(self, land, *, max_pieces: int = 10_000):
        self.land, self.spec, self.max_pieces = land, net_spec(land), max_pieces

    def _values(self, P: torch.Tensor, Q: torch.Tensor) -> list[float] | None:
        if self.spec is None:
            return None
        try:
            polys = ExactSegment(self.spec, self.land.layout, P, Q, max_pieces=self.max_pieces).pieces()
        except (NotExact, PieceBudget):
            return None
        vals: list[float] = []
        for piece in polys:
            vals += _extreme_values(piece.coef, piece.s0, piece.s1)
        return vals

    def rise(self, P: torch.Tensor, Q: torch.Tensor) -> float:
        r"""The largest increase of the loss along the chord P -> Q.

        Args:
            P: the chord's start, a tensor of shape (d,).
            Q: its end.

        Returns:
            \(\sup_{s \le t} L(t) - L(s) \ge 0\) over the chord's parameter, or inf when the
            chord cannot be treated exactly.
        """
        vals = self._values(P, Q)
        if vals is None:
            return math.inf
        run_min, rise = math.inf, 0.0
        for v in vals:
            run_min = min(run_min, v)
            rise = max(rise, v - run_min)
        return rise

    def peak(self, P: torch.Tensor, Q: torch.Tensor) -> float:
        r"""The largest loss on the chord P -> Q.

        Args:
            P: the chord's start, a tensor of shape (d,).
            Q: its end.

        Returns:
            \(\max_{t \in [0,1]} L((1-t)P + tQ)\), or inf when the chord cannot be treated
            exactly.
        """
        vals = self._values(P, Q)
        return math.inf if vals is None else max(vals)


def inscribe(at: Callable[[float], torch.Tensor], start: torch.Tensor,
             accept: Callable[[torch.Tensor, torch.Tensor], bool], *, chords: int, max_chords: int,
             label: str) -> tuple[list[Segment], int, bool]:
    """Chords of the curve ``at`` on [0, 1] (``at(0)`` replaced by ``start``), bisected until ``accept``.

    Args:
        at: the curve, parameter s in [0, 1] → point (d,).
        start: the point used for s = 0.
        accept: ``accept(P, Q)``: whether the chord P -> Q is good enough.
        chords: the initial number of equal chords.
        max_chords: most chords; a rejected chord is kept once they are reached.
        label: the segments' label prefix (``"<label> [chord k]"``).

    Returns:
        (segments, number of chords, whether max_chords stopped the refinement).
    """
    knots = np.linspace(0.0, 1.0, chords + 1).tolist()
    points = {s: at(s) for s in knots}
    points[0.0] = start
    i, hit = 0, False
    while i < len(knots) - 1:
        a, b = knots[i], knots[i + 1]
        if not accept(points[a], points[b]):
            if len(knots) - 1 < max_chords:
                m = 0.5 * (a + b)
                points[m] = at(m)
                knots.insert(i + 1, m)
                continue
            hit = True
        i += 1
    segs = [Segment(points[a], points[b], None, f"{label} [chord {k}]")
            for k, (a, b) in enumerate(zip(knots[:-1], knots[1:], strict=True))]
    return segs, len(knots) - 1, hit
