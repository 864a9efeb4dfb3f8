"""Merge the end points of many searches that found the same critical point."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_float
from ..errors import ShapeError
from ..results import Record


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class Clusters(Record):
    """Distinct points among many.

    Attributes:
        representatives: one point per cluster (K, d): the first member found.
        labels: the cluster of each input point (B,).
        counts: number of members per cluster (K,).
        tol: the distance below which two points are the same.
    """

    representatives: torch.Tensor
    labels: torch.Tensor
    counts: torch.Tensor
    tol: float


def deduplicate(points, *, tol: float = 1e-6) -> Clusters:
    """Group points closer than ``tol`` (Euclidean) to a cluster's first member.

    One pass per cluster: the first unassigned point starts a cluster and takes every
    unassigned point within ``tol`` of it.

    Args:
        points: (B, d) points.
        tol: merge distance (> 0).

    Returns:
        A :class:`Clusters`.

    Raises:
        ShapeError: if ``points`` is not 2-D.

    Example:
        >>> deduplicate(torch.tensor([[0.0], [1e-9], [1.0]])).counts.tolist()
        [2, 1]
    """
    tol = check_float(tol, "tol", "deduplicate", min_val=0.0, open_min=True)
    P = torch.as_tensor(points, dtype=torch.float64)
    if P.ndim != 2:
        msg = f"points must have shape (B, d). Got {tuple(P.shape)}."
        raise ShapeError(msg)
    D = torch.cdist(P, P)
    labels = torch.full((P.shape[0],), -1, dtype=torch.long)
    reps = []
    while bool((labels < 0).any()):
        first = int(torch.nonzero(labels < 0)[0])
        labels[(labels < 0) & (D[first] <= tol)] = len(reps)
        reps.append(first)
    counts = torch.bincount(labels, minlength=len(reps))
    return Clusters(representatives=P[reps], labels=labels, counts=counts, tol=tol)
