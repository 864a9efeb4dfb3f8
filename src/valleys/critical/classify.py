r"""Classify a critical point by its Hessian spectrum, probing higher orders when it is degenerate.

Rules (every threshold is a parameter, its default follows the landscape's dtype, see
:mod:`valleys.curvature.tolerances`, and it is stored in the result):

* critical (scale-free): :math:`\|\nabla L\| \le \text{grad\_tol}\cdot\|H\|_2\cdot\max(1, \|\theta\|)`.
  Both sides scale alike when L is multiplied by a constant, and adding a constant to L
  changes neither (the old rule, ``grad_tol * max(1, |L|)``, called a point 0.004 from
  the minimum of :math:`10^6 + \|\theta - \theta^*\|^2` critical). Read it as: the
  gradient-descent/Newton step :math:`\|\nabla L\| / \|H\|` is at most ``grad_tol`` of
  the size of theta. The Newton step :math:`\|H^+ \nabla L\|` (pseudo-inverse over the
  nonzero eigenvalues) is reported as well (``newton_step``); ``grad_tol`` defaults to
  :math:`\sqrt{\varepsilon}`.
* zero eigenvalue: :func:`valleys.curvature.rank.numerical_rank` with its default policy
  (``"gap"``: values below the noise floor :math:`\varepsilon n \max|\lambda|` are one
  cluster, the cut is the widest log-gap above it) in the landscape's dtype, or, when
  ``tau`` is given, :math:`|\lambda| \le \tau \max_i|\lambda_i|`; ``index`` =
  #{λ < −threshold}, ``positive`` = #{λ > threshold}; the counts are cross-checked with
  an LDLᵀ factorisation;
* resolution: eigenvalues with :math:`|\lambda|` at or below the noise floor
  :math:`\varepsilon\, n \max|\lambda|` of the dtype (``resolution_floor``; 1.9e-4 for a
  float32 Hessian of d = 698 and norm 2.3) have an undetermined sign.
  ``inertia_certified`` needs the LDLᵀ counts to agree with the eigenvalue counts *and*
  the counts to be resolved: no eigenvalue of undetermined sign counted as nonzero (a
  ``tau`` below the floor), none within the floor of the cut :math:`\pm` threshold, and no
  resolved negative eigenvalue (:math:`\lambda < -` floor) hidden in the zero band, and
  no nonzero eigenvalue at or below the floor (its sign is undetermined, so the Morse
  index is known only as a range; at a degenerate point the probe still decides the
  kind). When the counts themselves are not resolved (the first two cases), ``kind`` is
  ``"saddle"`` if a resolved negative and a resolved positive eigenvalue exist, stays
  ``"saddle (higher-order)"`` if the probe found one, and is
  ``"degenerate (undetermined sign)"`` otherwise; ``evidence`` says why;
* ``kind``: ``"not-critical"``; ``"global-min"`` (index 0 and L within ``loss_tol·max(1,|floor|)``
  of a known ``floor``); ``"local-min"`` (positive definite); ``"saddle"`` (negative and
  positive eigenvalues); ``"local-max"`` (negative definite); and, when the second order
  cannot decide (zero eigenvalues and no eigenvalues of one sign), a probe of L along the
  null-space directions decides: ``"saddle (higher-order)"`` when L moves both ways
  (it decreases at a min-like point or increases at a max-like point), else
  ``"degenerate (min-like)"`` / ``"degenerate (max-like)"``.

Above ``max_dim`` parameters the dense Hessian is not formed: the signs of the extreme
eigenvalues come from :func:`valleys.curvature.smallest_eigenvalue` (a Rayleigh-quotient
certificate for negative curvature) and a Lanczos estimate of the largest one, and
``index``/``nullity``/``positive`` are None. ``evidence`` says which route decided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from .._progress import bar
from .._validation import check_float, check_int
from ..curvature.inertia import eigen_inertia, ldl_inertia
from ..curvature.rank import numerical_rank
from ..curvature.tolerances import default_tol
from ..errors import ShapeError
from ..results import Record
from .result import start_point

if TYPE_CHECKING:
    from ..core import Landscape

#: Default step sizes of the null-space probe (geometric, from 1e-1 down to 1e-4).
DEFAULT_PROBE_STEPS = (1e-1, 1e-2, 1e-3, 1e-4)
#: Largest number of null-space directions probed (eigenvectors, then random combinations).
DEFAULT_PROBE_DIRECTIONS = 64
#: Largest d for which classify forms the dense Hessian.
DEFAULT_MAX_DIM = 6000


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class Probe(Record):
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


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class CriticalPoint(Record):
    """The class of a point and the numbers behind it.

    Attributes:
        theta: the point (d,).
        loss: L(theta).
        grad_norm: ||grad L(theta)||.
        grad_threshold: absolute gradient threshold used for "critical"
            (``grad_tol * grad_scale``).
        index: the number of eigenvalues below -zero_threshold (Morse index); None above ``max_dim``.
        nullity: the number of eigenvalues with |lambda| <= zero_threshold; None above ``max_dim``.
        positive: the number of eigenvalues above zero_threshold; None above ``max_dim``.
        zero_threshold: absolute eigenvalue threshold of the nullity.
        gap_ratio: |smallest nonzero| / |largest zero| eigenvalue (inf if no zero ones).
        ambiguous: gap_ratio below the required gap (the nullity is uncertain).
        inertia_certified: the LDL^T inertia equals the eigenvalue counts and the counts
            are resolved in the dtype (see the module docstring); False means the index
            is undetermined at this precision.
        kind: the class (see the module docstring).
        eigenvalues: all Hessian eigenvalues, ascending (above ``max_dim``: the smallest
            and the largest).
        tau: the relative eigenvalue threshold of the nullity (None under the gap policy).
        grad_tol: the relative gradient threshold of "critical".
        loss_tol: the relative loss tolerance used against ``floor``.
        floor: the known global minimum value, if given.
        probe: the null-space probe (None when the second order decides).
        grad_scale: ``||H||_2 * max(1, ||theta||)``, the scale of the criticality test.
        newton_step: ``||H^+ grad||`` over the nonzero eigenvalues (nan above ``max_dim``).
        policy: the nullity policy ("gap" or "relative").
        evidence: what decided the kind, in words.
        dtype: the landscape's dtype.
        resolution_floor: the noise floor eps * n * max|lambda| of the dtype: eigenvalues
            of smaller magnitude have an undetermined sign (nan above ``max_dim``).
        undetermined: the number of eigenvalues with magnitude at or below it.
    """

    theta: torch.Tensor
    loss: float
    grad_norm: float
    grad_threshold: float
    index: int | None
    nullity: int | None
    positive: int | None
    zero_threshold: float
    gap_ratio: float
    ambiguous: bool
    inertia_certified: bool
    kind: str
    eigenvalues: np.ndarray = field(repr=False)
    tau: float | None = None
    grad_tol: float = 1e-8
    loss_tol: float = 1e-8
    floor: float | None = None
    probe: Probe | None = None
    grad_scale: float = float("nan")
    newton_step: float = float("nan")
    policy: str = "gap"
    evidence: str = ""
    dtype: str = "float64"
    resolution_floor: float = float("nan")
    undetermined: int = 0

    _repr_skip = ("theta", "eigenvalues", "evidence")

    @property
    def is_critical(self) -> bool:
        """Whether the gradient is below its threshold."""
        return self.kind != "not-critical"

    @property
    def is_minimum_like(self) -> bool:
        """A global or local minimum, or a degenerate point that the probe found min-like."""
        return self.kind in ("global-min", "local-min", "degenerate (min-like)")

    def _extra(self) -> dict:
        return {"is_critical": self.is_critical, "is_minimum_like": self.is_minimum_like}

    def to_frame(self) -> pd.DataFrame:
        """One row: the kind, the counts, the thresholds and the evidence (no arrays).

        Returns:
            A one-row :class:`pandas.DataFrame`: the scalar fields, the probe's scalar entries as
            ``probe_<name>`` columns and the extreme eigenvalues ``lambda_min``, ``lambda_max``.
        """
        d = self.to_dict(arrays=False, strict=False)
        d.pop("theta")
        d.pop("eigenvalues")
        probe = d.pop("probe")
        if isinstance(probe, dict):
            d.update({f"probe_{k}": v for k, v in probe.items() if not isinstance(v, list)})
        d["lambda_min"] = float(self.eigenvalues[0])
        d["lambda_max"] = float(self.eigenvalues[-1])
        return pd.DataFrame([d])


def classify(land: Landscape, theta, /, *, floor: float | None = None, grad_tol: float | None = None,
             tau: float | None = None, loss_tol: float | None = None,
             gap_required: float = 1e3,
             probe_steps: tuple[float, ...] = DEFAULT_PROBE_STEPS,
             probe_directions: int = DEFAULT_PROBE_DIRECTIONS, seed: int = 0,
             max_dim: int = DEFAULT_MAX_DIM, progress: bool | None = None,
             hessian: torch.Tensor | None = None) -> CriticalPoint:
    """Classify ``theta`` as a minimum, saddle, maximum, degenerate or non-critical point.

    Args:
        land: a :class:`~valleys.Landscape`.
        theta: the point (d,).
        floor: the known global minimum value of L (enables ``"global-min"``).
        grad_tol: relative gradient threshold: critical when
            ``||grad|| <= grad_tol * ||H||_2 * max(1, ||theta||)``; None: sqrt(eps) of
            the landscape's dtype.
        tau: relative eigenvalue threshold: zero when ``|lambda| <= tau * max|lambda|``;
            None (default): the ``"gap"`` policy of
            :func:`~valleys.curvature.numerical_rank` in the landscape's dtype.
        loss_tol: relative tolerance of ``|L - floor|`` (times ``max(1, |floor|)``), and of
            the probe's "flat" band (times ``max(1, |L|)``); None: sqrt(eps).
        gap_required: spectral gap needed for an unambiguous nullity.
        probe_steps: step sizes of the null-space probe.
        probe_directions: largest number of null directions probed.
        seed: seed of the random null-space combinations of the probe.
        max_dim: the largest d for which the dense Hessian is formed; above it the
            matrix-free route decides from the signs of the extreme eigenvalues.
        progress: a progress bar on stderr (None: only on a terminal).
        hessian: the dense (d, d) Hessian at theta if the caller has already built it
            (it is used as given, not rebuilt); None: built here.

    Returns:
        A :class:`CriticalPoint`.

    Raises:
        ShapeError: if ``hessian`` is not (d, d).

    Example:
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
        >>> classify(land, torch.zeros(2)).kind
        'saddle'
        >>> classify(land, torch.ones(2), floor=0.0).kind
        'global-min'
    """
    where = "classify"
    eps_tol = default_tol(land.dtype)
    grad_tol = check_float(eps_tol if grad_tol is None else grad_tol, "grad_tol", where, min_val=0.0)
    loss_tol = check_float(eps_tol if loss_tol is None else loss_tol, "loss_tol", where, min_val=0.0)
    probe_directions = check_int(probe_directions, "probe_directions", where, min_val=1)
    seed = check_int(seed, "seed", where, min_val=0)
    max_dim = check_int(max_dim, "max_dim", where, min_val=1)
    theta = start_point(land, theta)
    if land.dim > max_dim:
        return _classify_matrix_free(land, theta, floor, grad_tol, loss_tol, seed, progress)
    with bar(3, "classify", progress, unit="stage") as pbar:
        value, g = land.loss_and_grad(theta)
        H = _given_hessian(hessian, land) if hessian is not None else land.hessian(theta, max_dim=max_dim).detach()
        pbar.update(1)
        lam, V = torch.linalg.eigh(H)
        pbar.update(1)
        lam_np = lam.double().numpy()
        rank = numerical_rank(lam_np, tau=tau, gap_required=gap_required, warn=False,
                              dtype=land.dtype)
        z_thr = rank.threshold
        inertia = eigen_inertia(lam_np, z_thr)
        ldl_agrees = ldl_inertia(H.double().numpy(), z_thr) == inertia
        # counts that rounding could change (they also decide the kind) and signs the
        # dtype cannot resolve (they only withdraw the certificate; the probe decides)
        unresolved = _unresolved_counts(lam_np, z_thr, rank.noise_floor)
        unsure = "; ".join(w for w in (unresolved, _unresolved_signs(lam_np, z_thr, rank.noise_floor)) if w)
        certified = ldl_agrees and not unsure
        pbar.update(1)
    loss, gnorm = float(value), float(g.norm())
    norm_h = float(np.abs(lam_np).max()) if lam_np.size else 0.0
    scale = norm_h * max(1.0, float(theta.norm()))
    g_thr = grad_tol * scale
    base_dtype = str(land.dtype).replace("torch.", "")
    keep = lam.abs() > z_thr
    coeff = (V[:, keep].T @ g) / lam[keep]
    newton = float(coeff.norm())
    evidence = (f"dense Hessian (d = {land.dim}, {rank.policy} policy): index {inertia.negative}, "
                f"nullity {inertia.zero} (threshold {z_thr:.3g}, gap ratio {rank.gap_ratio:.3g}"
                f"{', ambiguous' if rank.ambiguous else ''}), LDL^T inertia "
                f"{'agrees' if ldl_agrees else 'DISAGREES'}"
                f"{'; index UNDETERMINED at ' + base_dtype + ' resolution: ' + unsure if unsure else ''}"
                f"; ||grad|| = {gnorm:.3g} vs threshold "
                f"{g_thr:.3g} = grad_tol * ||H|| * max(1, ||theta||), Newton step {newton:.3g}")
    base = dict(theta=theta, loss=loss, grad_norm=gnorm, grad_threshold=g_thr,
                index=inertia.negative, nullity=inertia.zero, positive=inertia.positive,
                zero_threshold=z_thr, gap_ratio=rank.gap_ratio, ambiguous=rank.ambiguous,
                inertia_certified=bool(certified), eigenvalues=lam_np,
                tau=tau if rank.policy == "relative" else None,
                grad_tol=grad_tol, loss_tol=loss_tol, floor=floor, grad_scale=scale,
                newton_step=newton, policy=rank.policy, evidence=evidence, dtype=base_dtype,
                resolution_floor=float(rank.noise_floor),
                undetermined=int(np.count_nonzero(np.abs(lam_np) <= rank.noise_floor)))
    if gnorm > g_thr:
        return CriticalPoint(kind="not-critical", **base)

    def decided(kind: str, **extra) -> CriticalPoint:
        if unresolved:
            kind = _resolved_kind(kind, lam_np, rank.noise_floor)
        return CriticalPoint(kind=kind, **extra, **base)

    at_floor = floor is not None and abs(loss - floor) <= loss_tol * max(1.0, abs(floor))
    if inertia.negative == 0 and at_floor:
        return decided("global-min")
    if inertia.zero == 0 or (inertia.negative and inertia.positive):
        return decided(_second_order_kind(inertia))
    null = V[:, lam.abs() <= z_thr]
    probe = probe_null_space(land, theta, null, steps=probe_steps, n_max=probe_directions,
                             tolerance=loss_tol * max(1.0, abs(loss)), seed=seed)
    return decided(_probed_kind(inertia, probe), probe=probe)


def _given_hessian(hessian, land) -> torch.Tensor:
    H = torch.as_tensor(hessian).detach()
    if H.shape != (land.dim, land.dim):
        msg = f"classify's hessian must be ({land.dim}, {land.dim}). Got {tuple(H.shape)}."
        raise ShapeError(msg)
    H = H.to(land.dtype)
    return 0.5 * (H + H.T)


def _unresolved_counts(lam: np.ndarray, threshold: float, floor: float) -> str:
    """Why rounding at the noise ``floor`` could change the counts at ``threshold`` ('' if
    it could not): eigenvalues of undetermined sign counted nonzero, or near the cut."""
    mags = np.abs(lam)
    why = []
    signless = int(np.count_nonzero((mags > threshold) & (mags <= floor)))
    if signless:
        why.append(f"{signless} eigenvalues counted nonzero lie at or below the noise floor "
                   f"{floor:.3g}")
    near = int(np.count_nonzero((np.abs(mags - threshold) <= floor) & (mags > floor)))
    if near:
        why.append(f"{near} eigenvalues lie within the noise floor {floor:.3g} of the cut {threshold:.3g}")
    return "; ".join(why)


def _unresolved_signs(lam: np.ndarray, threshold: float, floor: float) -> str:
    """Why the zero band hides signs ('' if it does not): nonzero eigenvalues at or below the
    noise floor (sign undetermined) or resolved negative ones counted as zero."""
    mags = np.abs(lam)
    why = []
    signless = int(np.count_nonzero((mags > 0) & (mags <= min(floor, threshold))))
    if signless:
        why.append(f"{signless} nonzero eigenvalues lie at or below the noise floor {floor:.3g} "
                   f"(sign undetermined; counted as zero)")
    hidden = int(np.count_nonzero((lam < -floor) & (mags <= threshold)))
    if hidden:
        why.append(f"{hidden} resolved negative eigenvalues (below -{floor:.3g}) are counted as zero")
    return "; ".join(why)


def _resolved_kind(kind: str, lam: np.ndarray, floor: float) -> str:
    """The kind when the counts are not resolved: what the resolved signs prove, else
    undetermined. A resolved negative and a resolved positive eigenvalue make a saddle;
    a higher-order saddle found by the probe stays one."""
    if lam.size and lam.min() < -floor and lam.max() > floor:
        return "saddle"
    if kind == "saddle (higher-order)":
        return kind
    return "degenerate (undetermined sign)"


def _classify_matrix_free(land, theta, floor, grad_tol, loss_tol, seed, progress) -> CriticalPoint:
    """Classify from the signs of the extreme eigenvalues (no dense Hessian)."""
    from ..curvature.eigs import eigs
    from ..curvature.negative import smallest_eigenvalue

    value, g = land.loss_and_grad(theta)
    loss, gnorm = float(value), float(g.norm())
    low = smallest_eigenvalue(land, theta, method="lanczos", seed=seed, progress=progress)
    top = eigs(land, theta, k=1, which="LA", seed=seed, progress=progress)
    lam_max = float(top.eigenvalues[-1])
    scale = max(abs(lam_max), abs(low.value)) * max(1.0, float(theta.norm()))
    g_thr = grad_tol * scale
    top_positive = bool(top.sign_certain[-1] and lam_max > 0)
    if gnorm > g_thr:
        kind = "not-critical"
    elif low.sign < 0:
        kind = "saddle" if top_positive else "local-max"
    elif low.sign > 0:
        at_floor = floor is not None and abs(loss - floor) <= loss_tol * max(1.0, abs(floor))
        kind = "global-min" if at_floor else "local-min"
    else:
        kind = "degenerate (undetermined sign)"
    evidence = (f"matrix-free (d = {land.dim} > max_dim): smallest eigenvalue: {low.evidence}; "
                f"largest eigenvalue {lam_max:.3g} (error bound {float(top.error_bounds[-1]):.2g}); "
                f"||grad|| = {gnorm:.3g} vs threshold {g_thr:.3g}")
    return CriticalPoint(theta=theta, loss=loss, grad_norm=gnorm, grad_threshold=g_thr, index=None,
                         nullity=None, positive=None, zero_threshold=low.error_bound,
                         gap_ratio=math.nan, ambiguous=low.sign == 0, inertia_certified=False,
                         kind=kind, eigenvalues=np.array([low.value, lam_max]), tau=None,
                         grad_tol=grad_tol, loss_tol=loss_tol, floor=floor, grad_scale=scale,
                         newton_step=math.nan, policy="lanczos", evidence=evidence,
                         dtype=str(land.dtype).replace("torch.", ""))


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


def probe_null_space(land: Landscape, theta: torch.Tensor, /, null: torch.Tensor, *,
                     steps: tuple[float, ...] = DEFAULT_PROBE_STEPS,
                     n_max: int = DEFAULT_PROBE_DIRECTIONS, tolerance: float = 1e-8,
                     seed: int = 0) -> Probe:
    r"""Evaluate \(L(\theta \pm t u) - L(\theta)\) along unit vectors u of a null space, vectorised.

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
    return Probe(steps=steps, n_directions=U.shape[1], min_change=lo, max_change=hi, tolerance=tolerance,
                 descent=lo < -tolerance, ascent=hi > tolerance, best_step=float(signed[best].abs()))


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
