"""The largest loss along a path: sampled densely, and certified where a certificate applies.

:func:`path_maximum` samples the path adaptively (:func:`~.evaluate.evaluate`), zooms in on
the highest sample (:func:`sampled_max`), then certifies the claim ``L <= that sample + tol``
(:func:`~.certify.certify`, claim ``"sublevel"``). The maximum it reports is

- ``"exact"``: the exact maximum of the exact polynomial pieces (piecewise-polynomial nets
  on straight segments);
- ``"bound"``: a proven upper bound within ``tol`` of a sampled value (smooth nets with
  derivative bounds, when the bound closes within ``max_pieces``);
- ``"sampled"``: the largest sampled value, a lower bound of the maximum (anything else;
  :attr:`PathMaximum.upper` still holds a proven upper bound where pieces gave one).

A band's images are points of the path, so the path's maximum is never below the highest
image; between images the path may rise well above them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_float, check_int
from .certify import Certificate, certify
from .evaluate import evaluate
from .path import Path

#: Default absolute tolerance of a certified path maximum, relative to max(1, |maximum|), by dtype.
DEFAULT_MAX_RTOL = {torch.float64: 1e-8, torch.float32: 1e-4}
#: Most certificate pieces spent on one path maximum (beyond it a bound stays as found).
DEFAULT_MAX_PIECES = 4000
#: Rounds and samples per round of the local refinement of a sampled path maximum.
ZOOM_ROUNDS = 6
ZOOM_POINTS = 17
#: Certificate rounds: a bound piece that finds a value above the sampled maximum restarts
#: the certificate at that value, at most this many times.
LEVEL_ROUNDS = 3


@dataclass(frozen=True, eq=False)
class PathMaximum:
    """The largest loss along a path.

    Attributes:
        value: the maximum: exact (``kind="exact"``), a proven upper bound within ``tol``
            of a sampled value (``"bound"``) or the largest sampled value, a lower bound
            (``"sampled"``).
        kind: ``"exact"``, ``"bound"`` or ``"sampled"``.
        sampled: the largest sampled value (a lower bound of the maximum).
        upper: a proven upper bound of the maximum (inf where none is known).
        tol: the tolerance of the certificate's claim ``L <= level + tol``.
        certificate: the :class:`~valleys.paths.Certificate` (claim ``"sublevel"``); None
            when a sample is not finite (then ``value`` is inf or nan).
        n_evaluations: loss (and gradient) evaluations, counted per point.
    """

    value: float
    kind: str
    sampled: float
    upper: float
    tol: float
    certificate: Certificate | None = field(repr=False)
    n_evaluations: int

    def to_dict(self) -> dict:
        """The maximum, its kind and bounds as a JSON-able dict.

        Returns:
            A dict with ``value``, ``kind``, ``sampled``, ``upper`` (non-finite as text), ``tol``,
            the certificate's ``note`` and ``n_evaluations``.
        """
        return {"value": self.value, "kind": self.kind, "sampled": self.sampled,
                "upper": self.upper if math.isfinite(self.upper) else str(self.upper), "tol": self.tol,
                "note": self.certificate.note if self.certificate is not None else "a sampled loss is not finite",
                "n_evaluations": self.n_evaluations}


def sampled_max(path: Path, land, /, *, max_points: int = 513) -> tuple[float, int]:
    """Largest sampled loss along ``path`` and the evaluations it took.

    Adaptive sampling (:func:`~.evaluate.evaluate` with ``rtol=1e-4``), then
    :data:`ZOOM_ROUNDS` rounds of :data:`ZOOM_POINTS` samples between the neighbours of the
    best sample: a lower bound on the path's maximum that converges to a local maximum.

    Args:
        path: the path.
        land: the landscape.
        max_points: most samples of the adaptive stage.

    Returns:
        ``(largest loss, number of loss evaluations)``.
    """
    rep = evaluate(path, land, num=33, max_points=max_points, rtol=1e-4)
    n_eval = rep.n_evaluations
    t, vals = rep.t, rep.losses
    best = float(vals.max())
    for _ in range(ZOOM_ROUNDS):
        k = int(vals.argmax())
        lo, hi = float(t[max(k - 1, 0)]), float(t[min(k + 1, len(t) - 1)])
        if hi <= lo:
            break
        t = torch.linspace(lo, hi, ZOOM_POINTS, dtype=torch.float64)
        with torch.no_grad():
            vals = land.losses(path(t).to(land.dtype)).detach().to(torch.float64).numpy()
        n_eval += ZOOM_POINTS
        t = t.numpy()
        best = max(best, float(vals.max()))
    return best, n_eval


def path_maximum(path: Path, land, /, *, known: float = -math.inf, tol: float | None = None,
                 max_points: int = 513, max_pieces: int = DEFAULT_MAX_PIECES) -> PathMaximum:
    """The largest loss along ``path``, certified where a certificate applies.

    Args:
        path: a :class:`~valleys.paths.Path` in the landscape's parameter space.
        land: a :class:`~valleys.Landscape`.
        known: the largest loss already known at points of the path (e.g. a band's images).
        tol: tolerance of the certified claim ``L <= sampled maximum + tol``; default
            :data:`DEFAULT_MAX_RTOL` (1e-8 in float64, 1e-4 in float32) times
            max(1, |sampled maximum|).
        max_points: most adaptive samples (:func:`sampled_max`).
        max_pieces: most certificate pieces (:data:`DEFAULT_MAX_PIECES`).

    Returns:
        A :class:`PathMaximum`.
    """
    where = "paths.path_maximum"
    max_points = check_int(max_points, "max_points", where, min_val=33)
    max_pieces = check_int(max_pieces, "max_pieces", where, min_val=1)
    top, n_eval = sampled_max(path, land, max_points=max_points)
    top = float(known) if math.isnan(float(known)) else max(top, float(known))
    if not math.isfinite(top):  # a sample is inf or nan: no level to certify
        value = math.nan if math.isnan(top) else math.inf
        return PathMaximum(value, "sampled", value, math.inf, math.nan, None, n_eval)
    if tol is None:
        tol = DEFAULT_MAX_RTOL.get(land.dtype, 1e-8) * max(1.0, abs(top))
    tol = check_float(tol, "tol", where, min_val=0.0)
    for _ in range(LEVEL_ROUNDS):
        cert = certify(path, land, claim="sublevel", level=top, tol=tol, max_pieces=max_pieces)
        n_eval += cert.n_evaluations
        seen = float(np.max(cert.pieces[["L0", "L1"]].to_numpy())) if len(cert.pieces) else top
        if cert.kind != "bound" or cert.holds is not False or seen <= top:
            break
        top = seen  # a bound piece met a higher value than the samples: certify at it
    upper = float(cert.max_value)
    if cert.kind == "exact":  # the samples agree with the pieces to rounding; keep the larger
        return PathMaximum(max(top, upper), "exact", top, max(top, upper), tol, cert, n_eval)
    if cert.kind == "bound" and cert.holds is True:
        return PathMaximum(max(top, upper), "bound", top, max(top, upper), tol, cert, n_eval)
    return PathMaximum(top, "sampled", top, upper if cert.kind == "bound" else math.inf, tol, cert, n_eval)
