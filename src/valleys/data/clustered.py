"""Clustered data of Safran & Shamir Thm 5: points within delta of k centres in general position."""

from __future__ import annotations

import math

import torch

from .._validation import check_choice, check_float, check_generator, check_int
from ..errors import InvalidParameterError
from ._args import randn, uniform_ball
from .dataset import Dataset

CENTERS = ("unit", "gaussian")


def clustered(n: int, d: int, k: int, delta: float, *, seed: int | torch.Generator | None = 0,
              centers: str = "unit", lipschitz: float = 1.0) -> Dataset:
    """``n`` points, each within distance ``delta`` of one of ``k <= d`` centres.

    Centres ``c_j`` are Gaussian vectors (``centers="gaussian"``) or Gaussian vectors
    normalised to unit norm (``centers="unit"``, the SS-T5 check); ``k <= d`` Gaussian
    vectors are linearly independent (general position) with probability one. Points
    are assigned to clusters in turn (``t mod k``, so clusters differ in size by at most
    one) and drawn uniformly from the closed ball of radius ``delta`` about their centre.
    Targets are Lipschitz within a cluster:

    .. math::
        y_t = \\hat y_j + \\gamma \\langle a_j, x_t - c_j \\rangle, \\quad
        \\hat y_j \\sim \\mathcal N(0, 1),\\ \\|a_j\\| = 1,

    so ``|y_t - y_t'| <= gamma ||x_t - x_t'||`` inside cluster ``j``.

    Args:
        n: Number of samples, ``n >= k``.
        d: Input dimension >= 1.
        k: Number of clusters, ``1 <= k <= d``.
        delta: Cluster radius, > 0 and below half the smallest distance between
            centres (so every point is near a unique centre).
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        centers: ``"unit"`` or ``"gaussian"``.
        lipschitz: The within-cluster Lipschitz constant ``gamma`` >= 0.

    Returns:
        A regression :class:`Dataset` with ``meta`` holding ``centers`` (k, d),
        ``assignment`` (N,) int64, ``cluster_targets`` (k,) and ``directions`` (k, d).

    Raises:
        InvalidParameterError: If an argument has a wrong type or range, or the balls
            of radius ``delta`` about two centres overlap.
    """
    where = "clustered"
    d = check_int(d, "d", where, min_val=1)
    k = check_int(k, "k", where, min_val=1, max_val=d)
    n = check_int(n, "n", where, min_val=k)
    delta = check_float(delta, "delta", where, min_val=0.0, open_min=True)
    check_choice(centers, "centers", where, CENTERS)
    lipschitz = check_float(lipschitz, "lipschitz", where, min_val=0.0)
    gen = check_generator(seed, where)
    C = randn((k, d), gen)
    if centers == "unit":
        C = C / C.norm(dim=1, keepdim=True)
    _check_separated(C, delta, where)
    assignment = torch.arange(n) % k
    X = C[assignment] + uniform_ball(n, d, delta, gen)
    A = randn((k, d), gen)
    A = A / A.norm(dim=1, keepdim=True)
    y_hat = randn((k,), gen)
    y = y_hat[assignment] + lipschitz * ((X - C[assignment]) * A[assignment]).sum(dim=1)
    meta = {"centers": C, "assignment": assignment, "cluster_targets": y_hat,
            "directions": A, "delta": delta, "lipschitz": lipschitz, "k": k}
    return Dataset(X, y, "clustered", "regression", meta)


def _check_separated(C: torch.Tensor, delta: float, where: str) -> None:
    if len(C) < 2:
        return
    gaps = torch.cdist(C, C) + torch.diag(torch.full((len(C),), math.inf, dtype=C.dtype))
    min_gap = float(gaps.min())
    if 2.0 * delta >= min_gap:
        msg = (f"The 'delta' parameter of {where} must be below half the smallest distance "
               f"between centres ({min_gap / 2:.4g}) so that every point is near a unique "
               f"centre; use a smaller delta, fewer clusters or another seed. "
               f"Got {delta!r} instead.")
        raise InvalidParameterError(msg)
