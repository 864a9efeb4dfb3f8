"""Paths in parameter space: evaluation, barriers and certificates.

- Path objects: :func:`linear`, :func:`polygon`, :func:`bezier`, :func:`curve`,
  :func:`chain` (constructed paths made of labelled pieces).
- :func:`evaluate`: adaptive sampling -> :class:`PathReport` (the peers' table and barriers).
- :func:`certify`: a :class:`Certificate` that the loss never rises along the path, or
  stays in a sublevel set; kind ``"exact"`` (piecewise-polynomial nets on straight
  pieces), ``"bound"`` (smooth nets with activation derivative bounds) or ``"sampled"``
  (never reported as holding).
- :func:`neb`, :func:`autoneb`, :func:`fit_bezier`: low paths between two minima
  (nudged elastic band with climbing image, AutoNEB cycles, Garipov's Bezier curves);
  their barrier is the maximum along the returned path (:func:`path_maximum`: exact,
  bound or sampled), their ``image_max`` the highest image.
- :func:`escape`: a certified path from a point to low loss inside its sublevel set, or the
  lowest barrier found (evidence of a spurious valley, never a proof).
- :class:`ConstructedPath`: what a paper construction returns (the constructions themselves,
  VBB A3/A4, Cooper C5.9, Safran–Shamir A1, Nguyen T3.4.9/T3.4.17, are in
  :mod:`valleys.literature`); :mod:`.chords` inscribes a certifiable polygon in a curve.
"""

from .certify import DEFAULT_RTOL, Certificate, certify
from .constructed import ConstructedPath
from .escape import EscapeResult, escape
from .evaluate import PathReport, evaluate
from .maximum import PathMaximum, path_maximum
from .neb import BandResult, SublevelResult, autoneb, fit_bezier, neb, respace, sublevel_connected
from .neb import bezier_curve as bezier_curve  # the deprecated name of fit_bezier (warns)
from .path import Path, Segment, bezier, chain, curve, linear, polygon
from .saddle import SaddleResult, refine_saddle

__all__ = [
    # path objects
    "Path", "Segment", "linear", "polygon", "bezier", "curve", "chain", "ConstructedPath",
    # evaluation and certificates
    "evaluate", "PathReport", "certify", "Certificate", "DEFAULT_RTOL", "path_maximum", "PathMaximum",
    # low paths between two points
    "neb", "autoneb", "fit_bezier", "respace", "BandResult", "sublevel_connected", "SublevelResult",
    # escape from a point
    "escape", "EscapeResult", "refine_saddle", "SaddleResult",
]
