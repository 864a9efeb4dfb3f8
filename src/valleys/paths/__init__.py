"""Paths in parameter space: evaluation, barriers and certificates.

- Path objects: :func:`linear`, :func:`polygon`, :func:`bezier`, :func:`curve`,
  :func:`chain` (constructed paths made of labelled pieces).
- :func:`evaluate`: adaptive sampling -> :class:`PathReport` (the peers' table and barriers).
- :func:`certify`: a :class:`Certificate` that the loss never rises along the path, or
  stays in a sublevel set; kind ``"exact"`` (piecewise-polynomial nets on straight
  pieces), ``"bound"`` (smooth nets with activation derivative bounds) or ``"sampled"``
  (never reported as holding).
"""

from .certify import DEFAULT_RTOL, Certificate, certify
from .evaluate import PathReport, evaluate
from .path import Path, Segment, bezier, chain, curve, linear, polygon

__all__ = [
    # path objects
    "Path", "Segment", "linear", "polygon", "bezier", "curve", "chain",
    # evaluation and certificates
    "evaluate", "PathReport", "certify", "Certificate", "DEFAULT_RTOL",
]
