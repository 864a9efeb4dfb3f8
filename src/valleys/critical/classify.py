r"""Classify a critical point by its Hessian spectrum, probing higher orders when it is degenerate.

Rules (every threshold is a parameter and is stored in the result):

* critical: :math:`\|\nabla L\| \le \text{grad\_tol}\cdot\max(1, |L(\theta)|)`;
* zero eigenvalue: :math:`|\lambda| \le \tau \max_i|\lambda_i|` (the ``"relative"`` policy of
  :func:`valleys.curvature.rank.numerical_rank`), so ``index`` = #{λ < −threshold},
  ``positive`` = #{λ > threshold}; the counts are cross-checked with an LDLᵀ factorisation;
* ``kind``: ``"not-critical"``; ``"global-min"`` (index 0 and L within ``loss_tol·max(1,|floor|)``
  of a known ``floor``); ``"local-min"`` (positive definite); ``"saddle"`` (negative and
  positive eigenvalues); ``"local-max"`` (negative definite); and, when the second order
  cannot decide (zero eigenvalues and no eigenvalues of one sign), a probe of L along the
  null-space directions decides: ``"saddle (higher-order)"`` when L moves both ways
  (it decreases at a min-like point or increases at a max-like point), else
  ``"degenerate (min-like)"`` / ``"degenerate (max-like)"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .._validation import check_float, check_int
from ..curvature.inertia import eigen_inertia, ldl_inertia
from ..curvature.rank import numerical_rank
from .result import start_point

#: Default step sizes of the null-space probe (geometric, from 1e-1 down to 1e-4).
DEFAULT_PROBE_STEPS = (1e-1, 1e-2, 1e-3, 1e-4)
#: Largest number of null-space directions probed (eigenvectors, then random combinations).
DEFAULT_PROBE_DIRECTIONS = 64


@dataclass(frozen=True, eq=False)
class Probe:
    """Loss changes along null-space directions of the Hessian.

    Attributes:
        steps: the step sizes t (the probe evaluates L(theta ± t u) for unit vectors u).
        n_directions: number of unit directions u probed.
        min_change: the most negative L(theta ± t u) - L(theta) seen.
        max_change: the most positive change seen.
        tolerance: |change| <= tolerance counts as flat.
        descent: some probe lowered L by more than ``tolerance``.
        ascent: some probe raised L by more than ``tolerance``.
        best_step: the step t of the most negative change.
    """

    steps: tuple[float, ...]
    n_directions: int
    min_change: float
    max_change: float
    tolerance: float
    descent: bool
    ascent: bool
    best_step: float


@dataclass(frozen=True, eq=False)
class CriticalPoint:
    """The class of a point and the numbers behind it.

    Attributes:
        theta: the point (d,).
        loss: L(theta).
        grad_norm: ||grad L(theta)||.
        grad_threshold: absolute gradient threshold used for "critical".
        index: #eigenvalues below -zero_threshold (Morse index).
        nullity: #eigenvalues with |lambda| <= zero_threshold.
        positive: #eigenvalues above zero_threshold.
        zero_threshold: absolute eigenvalue threshold (tau * max|lambda|).
        gap_ratio: |smallest nonzero| / |largest zero| eigenvalue (inf if no zero ones).
        ambiguous: gap_ratio below the required gap (the nullity is uncertain).
        inertia_certified: the LDL^T inertia equals the eigenvalue counts.
        kind: the class (see the module docstring).
        eigenvalues: all Hessian eigenvalues, ascending.
        tau, grad_tol, loss_tol: the relative thresholds passed.
        floor: the known global minimum value, if given.
        probe: the null-space probe (None when the second order decides).
    """

    theta: torch.Tensor
    loss: float
    grad_norm: float
    grad_threshold: float
    index: int
    nullity: int
    positive: int
    zero_threshold: float
    gap_ratio: float
    ambiguous: bool
    inertia_certified: bool
    kind: str
    eigenvalues: np.ndarray = field(repr=False)
    tau: float = 1e-8
    grad_tol: float = 1e-8
    loss_tol: float = 1e-8
    floor: float | None = None
    probe: Probe | None = None

    @property
    def is_critical(self) -> bool:
        """Whether the gradient is below its threshold."""
        return self.kind != "not-critical"

    @property
    def is_minimum_like(self) -> bool:
        """A global or local minimum, or a degenerate point that the probe found min-like."""
        return self.kind in ("global-min", "local-min", "degenerate (min-like)")


def classify(land, theta, *, floor: float | None = None, grad_tol: float = 1e-8,
             tau: float = 1e-8, loss_tol: float = 1e-8, gap_required: float = 1e3,
             probe_steps: tuple[float, ...] = DEFAULT_PROBE_STEPS,
             probe_directions: int = DEFAULT_PROBE_DIRECTIONS, seed: int = 0,
             max_dim: int = 6000) -> CriticalPoint:
    """Classify ``theta`` as a minimum, saddle, maximum, degenerate or non-critical point.

    Args:
        land: a :class:`~valleys.Landscape`.
        theta: the point (d,).
        floor: the known global minimum value of L (enables ``"global-min"``).
        grad_tol: relative gradient threshold: critical when
            ``||grad|| <= grad_tol * max(1, |L(theta)|)``.
        tau: relative eigenvalue threshold: zero when ``|lambda| <= tau * max|lambda|``.
        loss_tol: relative tolerance of ``|L - floor|`` (times ``max(1, |floor|)``), and of
            the probe's "flat" band (times ``max(1, |L|)``).
        gap_required: spectral gap needed for an unambiguous nullity.
        probe_steps: step sizes of the null-space probe.
        probe_directions: largest number of null directions probed.
        seed: seed of the random null-space combinations of the probe.
        max_dim: the largest d for which the dense Hessian is formed.

    Returns:
        A :class:`CriticalPoint`.

    Raises:
        DenseTooLargeError: if d > ``max_dim``.

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
        >>> classify(land, torch.zeros(2)).kind
        'saddle'
        >>> classify(land, torch.ones(2), floor=0.0).kind
        'global-min'
    """
    where = "classify"
    grad_tol = check_float(grad_tol, "grad_tol", where, min_val=0.0)
    loss_tol = check_float(loss_tol, "loss_tol", where, min_val=0.0)
    probe_directions = check_int(probe_directions, "probe_directions", where, min_val=1)
    seed = check_int(seed, "seed", where, min_val=0)
    theta = start_point(land, theta)
    value, g = land.loss_and_grad(theta)
    loss, gnorm = float(value), float(g.norm())
    g_thr = grad_tol * max(1.0, abs(loss))
    H = land.hessian(theta, max_dim=max_dim).detach()
    lam, V = torch.linalg.eigh(H)
    lam_np = lam.numpy()
    rank = numerical_rank(lam_np, tau=tau, gap_required=gap_required, warn=False)
    z_thr = rank.threshold
    inertia = eigen_inertia(lam_np, z_thr)
    certified = ldl_inertia(H.numpy(), z_thr) == inertia
    base = dict(theta=theta, loss=loss, grad_norm=gnorm, grad_threshold=g_thr,
                index=inertia.negative, nullity=inertia.zero, positive=inertia.positive,
                zero_threshold=z_thr, gap_ratio=rank.gap_ratio, ambiguous=rank.ambiguous,
                inertia_certified=bool(certified), eigenvalues=lam_np, tau=tau,
                grad_tol=grad_tol, loss_tol=loss_tol, floor=floor)
    if gnorm > g_thr:
        return CriticalPoint(kind="not-critical", **base)
    at_floor = floor is not None and abs(loss - floor) <= loss_tol * max(1.0, abs(floor))
    if inertia.negative == 0 and at_floor:
        return CriticalPoint(kind="global-min", **base)
    if inertia.zero == 0 or (inertia.negative and inertia.positive):
        return CriticalPoint(kind=_second_order_kind(inertia), **base)
    null = V[:, lam.abs() <= z_thr]
    probe = probe_null_space(land, theta, null, steps=probe_steps, n_max=probe_directions,
                             tolerance=loss_tol * max(1.0, abs(loss)), seed=seed)
    return CriticalPoint(kind=_probed_kind(inertia, probe), probe=probe, **base)


def _second_order_kind(inertia) -> str:
    if inertia.negative and inertia.positive:
        return "saddle"
    return "local-max" if inertia.negative else "local-min"


def _probed_kind(inertia, probe: Probe) -> str:
    if inertia.negative == 0 and inertia.positive == 0:
        if probe.descent and probe.ascent:
            return "saddle (higher-order)"
        return "degenerate (max-like)" if probe.descent else "degenerate (min-like)"
    if inertia.negative == 0:
        return "saddle (higher-order)" if probe.descent else "degenerate (min-like)"
    return "saddle (higher-order)" if probe.ascent else "degenerate (max-like)"


def probe_null_space(land, theta: torch.Tensor, null: torch.Tensor, *,
                     steps: tuple[float, ...] = DEFAULT_PROBE_STEPS,
                     n_max: int = DEFAULT_PROBE_DIRECTIONS, tolerance: float = 1e-8,
                     seed: int = 0) -> Probe:
    """Evaluate L(theta ± t u) - L(theta) along unit vectors u of a null space, vectorised.

    The directions are the given orthonormal null vectors (up to ``n_max // 2``) and
    random unit combinations of them (filling up to ``n_max``).

    Args:
        land: a :class:`~valleys.Landscape`.
        theta: the point (d,).
        null: orthonormal columns (d, k) spanning the null space.
        steps: step sizes t > 0.
        n_max: largest number of directions.
        tolerance: |change| <= tolerance counts as flat.
        seed: seed of the random combinations.

    Returns:
        A :class:`Probe`.
    """
    steps = tuple(check_float(t, "probe_steps", "probe_null_space", min_val=0.0, open_min=True)
                  for t in steps)
    U = _directions(null, n_max, seed)
    t = torch.tensor(steps, dtype=theta.dtype)
    signed = torch.cat([t, -t])
    points = theta + (signed[:, None, None] * U.T[None, :, :]).reshape(-1, theta.numel())
    base = land.losses(theta[None])[0]
    change = (land.losses(points) - base).reshape(len(signed), -1)
    change = torch.nan_to_num(change, nan=math.inf)
    lo, hi = float(change.min()), float(change.max())
    best = int(torch.argmin(change.min(dim=1).values))
    return Probe(steps, U.shape[1], lo, hi, tolerance, lo < -tolerance, hi > tolerance,
                 float(signed[best].abs()))


def _directions(null: torch.Tensor, n_max: int, seed: int) -> torch.Tensor:
    k = null.shape[1]
    basis = null[:, : max(1, n_max // 2)] if k > n_max // 2 else null
    extra = n_max - basis.shape[1]
    if extra <= 0 or k < 2:
        return basis
    gen = torch.Generator().manual_seed(int(seed))
    C = torch.randn(k, extra, generator=gen, dtype=null.dtype)
    combo = null @ (C / C.norm(dim=0, keepdim=True))
    return torch.cat([basis, combo / combo.norm(dim=0, keepdim=True)], dim=1)
