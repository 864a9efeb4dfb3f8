r"""Document 001 (Sun et al. survey), Thm 4.3: the regularised one-layer ReQU network.

``sun-requ`` (SUN-T4.3). Scalar inputs, :math:`f_\theta(x) = \sum_j a_j \max(w_j x + b_j, 0)^2`
with m >= n + 1 neurons, logistic loss and the regulariser
:math:`\tfrac13 \sum_j \lambda_j (|a_j|^3 + 2 (w_j^2 + b_j^2)^{3/2})`. The seed says: for small
generic :math:`\lambda`, F is coercive and every local minimum is a global minimum with zero
training error.

Method (every threshold is a ``Params`` field):

1. Critical points from many starts: SciPy L-BFGS on the analytic gradient
   (:func:`~valleys.experiments.d001_sun._shared.requ_fun_grad`), then *pruning* and Newton.
   A neuron whose size ||(a_j, w_j, b_j)|| is below ``prune_tol`` times the largest
   neuron's, or that is active on no data point,
   is set exactly to zero: at :math:`a_j = 0, u_j = (w_j, b_j) = 0` the gradient block of
   the neuron is exactly zero whatever the other neurons are (its data term carries
   :math:`a_j` and :math:`\max(u_j \cdot \tilde x, 0)`, the regulariser is cubic), so a
   critical point of F restricted to the live neurons is a critical point of F. Newton
   (:func:`newton_lm`: the Levenberg-Marquardt iteration of
   :func:`valleys.critical.damped_newton` with the analytic Hessian :func:`requ_hessian`,
   which is 30x faster than autograd Hessians here) then drives the restricted gradient to
   ``newton_tol``; the full 3m-gradient is re-checked against ``crit_tol``.
2. Deduplication (:func:`valleys.critical.deduplicate`, Euclidean, ``dedup_tol``). The
   model has no parameter symmetry here: the :math:`\lambda_j` are distinct, so
   permuting neurons changes F, and the rescaling :math:`a \to a/c^2, u \to c u` that
   leaves f unchanged changes the regulariser.
3. Classification. The Hessian is block diagonal: the block of the zero neurons is
   exactly 0 (second derivatives of cubic terms vanish at 0, mixed terms carry
   :math:`a_j` or :math:`\max(u_j \cdot \tilde x, 0)`). The live block is classified by
   :func:`valleys.critical.classify` (eigenvalue zero when
   :math:`|\lambda| \le \tau \max|\lambda|`, ``eig_tau``). A zero neuron k is decided at third
   order, exactly: along :math:`(a_k, u_k) = t(\mp\alpha, \beta \hat u)` the change of F is
   :math:`t^3(-\alpha\beta^2 |c(\hat u)| + \tfrac{\lambda_k}{3}(\alpha^3 + 2\beta^3))` with
   :math:`c(\hat u) = \sum_i \ell'_i \max(\hat u \cdot (x_i, 1), 0)^2`; by AM-GM
   (:math:`\alpha\beta^2 \le (\alpha^3 + 2\beta^3)/3`, equality at :math:`\alpha = \beta`) it is
   nonnegative for every direction iff :math:`C^* = \max_{\hat u} |c(\hat u)| \le \lambda_k`.
   :math:`C^*` is a maximum over the unit circle, found on a grid of ``angle_grid``
   angles refined by a bounded scalar search. Decision: live block positive definite,
   no kink :math:`w_j x_i + b_j = 0` within ``kink_tol`` of a data point (F is only
   :math:`C^1` there) and :math:`C^*/\lambda_k < 1 - \text{cubic\_margin}` for every zero
   neuron: **local minimum**; a negative live eigenvalue, or a positive definite live
   block with :math:`C^*/\lambda_k > 1 + \text{cubic\_margin}` for some zero neuron (an
   explicit cubic descent direction): **saddle**; anything else: **undetermined**
   (never guessed).
4. Instances: ``single-point`` (n = 1, m = 2): the global minimum has a closed form
   (:func:`single_point_minimum`), computed by separate code, so "every local minimum is
   global" is checked against an independent value. ``claims`` (n points, m = n + 1,
   the CLAIMS.md check) at each :math:`\lambda` scale in ``lam_scales``. Control (a
   hypothesis removed): with :math:`\lambda = 0` the path :math:`(c\,a, w, b)`, c -> inf,
   from every certified minimum strictly lowers the loss towards its infimum 0 (no
   minimum exists; the seed's "decreasing path to infinity"), while with the regulariser
   F grows along it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize_scalar
from scipy.special import expit

from ..._validation import check_rng
from ...core import Landscape
from ...critical import classify, deduplicate
from ...optim import newton_lm as optim_newton_lm
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001, lbfgs, requ_fun_grad

LOCAL_MIN, SADDLE, UNDETERMINED, NOT_CRITICAL = ("local-min", "saddle", "undetermined",
                                                 "not-critical")


# ------------------------------------------------------------------------------ model
def requ_objective(x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor, *, reg: bool = True):
    r"""F(theta) for theta = (a_1..a_m, w_1..w_m, b_1..b_m), rowwise ((..., 3m) -> (...)):
    :math:`\sum_i \log(1 + e^{-y_i f(x_i)}) + \tfrac13 \sum_j \lambda_j (|a_j|^3 + 2\|u_j\|^3)`
    (without the regulariser when ``reg`` is False).

    Args:
        x: scalar inputs ``(n,)``.
        y: labels ``(n,)`` in {-1, 1}.
        lam: the regularisation weights ``(m,)``.
        reg: whether the cubic regulariser is added.

    Returns:
        ``F``, a rowwise torch function ``(..., 3m) -> (...)``.
    """
    m = lam.numel()

    def F(t: torch.Tensor) -> torch.Tensor:
        a, w, b = t[..., :m], t[..., m:2 * m], t[..., 2 * m:]
        r = torch.clamp(x[:, None] * w[..., None, :] + b[..., None, :], min=0.0) ** 2
        f = (r * a[..., None, :]).sum(-1)
        loss = torch.nn.functional.softplus(-y * f).sum(-1)
        if not reg:
            return loss
        s2 = w * w + b * b  # ||u_j||^3 with exact zero derivatives at u_j = 0 (no 0 * inf)
        cube = torch.where(s2 > 0, torch.where(s2 > 0, s2, 1.0) ** 1.5, 0.0)
        return loss + (lam * (a.abs() ** 3 + 2 * cube)).sum(-1) / 3

    return F


def requ_outputs(theta: np.ndarray, x: np.ndarray, m: int) -> np.ndarray:
    """f(x_i) = sum_j a_j max(w_j x_i + b_j, 0)^2 (NumPy).

    Args:
        theta: the parameters ``(3m,)``: a, then w, then b.
        x: inputs ``(n,)``.
        m: neurons.

    Returns:
        The outputs ``(n,)``.
    """
    a, w, b = theta[:m], theta[m:2 * m], theta[2 * m:]
    return (np.maximum(np.outer(x, w) + b, 0.0) ** 2) @ a


def loss_derivatives(theta: np.ndarray, x: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
    """l'_i = d/df_i log(1 + exp(-y_i f_i)) = -y_i sigmoid(-y_i f_i).

    Args:
        theta: the parameters ``(3m,)``.
        x: inputs ``(n,)``.
        y: labels ``(n,)``.
        m: neurons.

    Returns:
        The derivatives ``(n,)``.
    """
    return -y * expit(-y * requ_outputs(theta, x, m))


def requ_hessian(x: np.ndarray, y: np.ndarray, lam: np.ndarray):
    r"""Analytic Hessian of F (the objective of :func:`requ_objective`) in the layout
    (a_1..a_m, w_1..w_m, b_1..b_m); valid where no w_j x_i + b_j is 0 (F is C^1 only
    there). Data part :math:`\sum_i \ell''_i J_i J_i^T + \ell'_i \nabla^2 f_i`, regulariser
    :math:`2\lambda_j|a_j|` and :math:`2\lambda_j(\|u_j\| I + u_j u_j^T/\|u_j\|)` (0 at u_j = 0).

    Args:
        x: inputs ``(n,)``.
        y: labels ``(n,)``.
        lam: the regularisation weights ``(m,)``.

    Returns:
        ``hess(theta) -> H``, the dense ``(3m, 3m)`` Hessian.
    """
    m = len(lam)

    def hess(t: np.ndarray) -> np.ndarray:
        a, w, b = t[:m], t[m:2 * m], t[2 * m:]
        z = np.outer(x, w) + b
        on = (z > 0).astype(float)
        r = z * on
        f = (r ** 2) @ a
        sg = expit(-y * f)
        g, h = -y * sg, sg * (1.0 - sg)
        J = np.concatenate([r ** 2, 2 * a * r * x[:, None], 2 * a * r], axis=1)  # (n, 3m)
        H = (J * h[:, None]).T @ J
        j = np.arange(m)
        ia, iw, ib = j, m + j, 2 * m + j
        aw, ab = 2 * (g * x) @ r, 2 * g @ r
        ww, wb, bb = 2 * a * ((g * x * x) @ on), 2 * a * ((g * x) @ on), 2 * a * (g @ on)
        for (p_, q_), v in (((ia, iw), aw), ((ia, ib), ab), ((iw, ib), wb)):
            H[p_, q_] += v
            H[q_, p_] += v
        H[iw, iw] += ww
        H[ib, ib] += bb
        s = np.sqrt(w * w + b * b)
        H[ia, ia] += 2 * lam * np.abs(a)
        safe = np.where(s > 0, s, 1.0)
        k = np.where(s > 0, 2 * lam / safe, 0.0)
        H[iw, iw] += 2 * lam * s + k * w * w
        H[ib, ib] += 2 * lam * s + k * b * b
        H[iw, ib] += k * w * b
        H[ib, iw] += k * w * b
        return H

    return hess


def newton_lm(fg, hess, theta: np.ndarray, idx: np.ndarray, *, tol: float, max_iter: int,
              damping: float = 1e-3) -> np.ndarray:
    """Levenberg-Marquardt on grad F = 0 over the coordinates ``idx`` (the others fixed),
    the algorithm of :func:`valleys.critical.damped_newton` (step -(H^2 + mu I)^{-1} H g in
    the eigenbasis of H, mu / 3 on a step that lowers ||g||, * 3 otherwise) with the
    analytic Hessian; stops when ||g_idx|| <= tol * max(1, |F|) or when mu exceeds
    1e16 max(1, ||H||^2). A thin caller of :func:`valleys.optim.newton_lm`.

    Args:
        fg: ``theta -> (value, gradient)``.
        hess: ``theta -> Hessian``.
        theta: the start ``(3m,)`` (not modified).
        idx: the coordinates that move.
        tol: the relative gradient tolerance.
        max_iter: the largest number of accepted steps.
        damping: the initial damping relative to max(1, ||H||^2).

    Returns:
        The end point ``(3m,)``.
    """
    return optim_newton_lm(fg, hess, theta.copy(), grad_tol=tol, max_iter=max_iter, damping=damping,
                           idx=idx, relative=True).x


def cubic_coefficient(g: np.ndarray, x: np.ndarray, *, grid: int = 3600) -> tuple[float, float]:
    r""":math:`C^* = \max_\phi |\sum_i g_i \max(\cos\phi\, x_i + \sin\phi, 0)^2|` and its angle.

    A grid of ``grid`` angles on [0, 2 pi), then a bounded Brent search on the bracket of
    the best grid angle (both ends are grid points, so the refined value is >= the grid's).

    Args:
        g: the loss derivatives ``(n,)`` at the point (:func:`loss_derivatives`).
        x: inputs ``(n,)``.
        grid: angles of the grid.

    Returns:
        ``(C*, phi*)``: the maximum and its angle.
    """
    def c(phi):
        return np.abs(g @ np.maximum(np.cos(phi) * x[:, None] + np.sin(phi), 0.0) ** 2)

    phis = np.linspace(0.0, 2 * np.pi, grid, endpoint=False)
    vals = c(phis[None, :])
    k = int(np.argmax(vals))
    h = 2 * np.pi / grid
    res = minimize_scalar(lambda p: -float(c(np.array([p]))[0]), bounds=(phis[k] - h, phis[k] + h),
                          method="bounded", options={"xatol": 1e-12})
    best = max(float(vals[k]), -float(res.fun))
    return best, float(res.x if -res.fun >= vals[k] else phis[k])


def single_point_minimum(x1: float, y1: float, lam: np.ndarray) -> float:
    r"""Closed-form global minimum of F for one data point (n = 1), any m >= 1.

    By AM-GM each neuron costs at least :math:`\lambda_j |a_j| \|u_j\|^2`, and
    :math:`|f(x_1)| \le \sum_j |a_j| \|u_j\|^2 K` with :math:`K = 1 + x_1^2`, so
    :math:`F \ge \min_z \log(1 + e^{-z}) + c z` with :math:`c = \lambda_{\min}/K`, attained by
    the cheapest neuron alone with :math:`u \parallel (x_1, 1)` and :math:`|a| = \|u\|`. The
    minimiser is :math:`\sigma(-z) = c`: :math:`F^* = -\log(1 - c) + c \log((1 - c)/c)`
    (:math:`c < 1/2`).

    Args:
        x1: the data point.
        y1: its label.
        lam: the regularisation weights ``(m,)``.

    Returns:
        The global minimum value :math:`F^*`.
    """
    c = float(np.min(lam)) / (1.0 + x1 * x1)
    return -math.log1p(-c) + c * math.log((1.0 - c) / c)


# ------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ReQUParams(Params):
    """Parameters of ``sun-requ``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n: data points of the ``claims`` instance (x ~ U(-1, 1) sorted, y = +-1 at
            random); m = n + 1 neurons (the theorem's m >= n + 1).
        lam_scales: lambda_j = scale * U(0.5, 1.5) for each scale (CLAIMS.md: 1e-3).
        runs: multi-starts per instance (N(0, I) starts).
        single_runs: starts of the ``single-point`` instance (n = 1, m = 2).
        maxiter: L-BFGS iterations before pruning and Newton.
        prune_tol: a neuron with ||(a_j, w_j, b_j)|| below prune_tol times the largest
            neuron's is set to zero.
        newton_tol: relative gradient tolerance of the Newton refinement
            (stop at ||grad|| <= newton_tol * max(1, |F|)).
        newton_iter: the step limit of the Newton refinement.
        crit_tol: a refined point is critical when its full gradient norm is below this.
        dedup_tol: two critical points closer than this (Euclidean) are one.
        eig_tau: a live-block Hessian eigenvalue is zero when |lambda| <= eig_tau max|lambda|.
        cubic_margin: a zero neuron is min-like when C*/lambda_k < 1 - cubic_margin and
            gives descent when C*/lambda_k > 1 + cubic_margin (else undetermined).
        kink_tol: F is only C^1 where w_j x_i + b_j = 0; a live neuron with
            min_i |w_j x_i + b_j| / ||u_j|| below this makes the point undetermined.
        angle_grid: grid angles of the C* search.
        value_tol: relative tolerance of objective values: F and F' are equal when
            |F - F'| <= value_tol * |F'| (CLAIMS.md: 1e-6; relative, since F shrinks with
            lambda: an absolute 1e-6 would merge distinct minima at lambda scale 1e-6).
        path_scales: factors c of the control path (c a, w, b).
        escapes: saddle escapes per start.
        escape_step: size of the escape step.
    """

    n: int = 8
    lam_scales: tuple[float, ...] = (1e-3,)
    runs: int = 200
    single_runs: int = 40
    maxiter: int = 1500
    prune_tol: float = 0.1
    newton_tol: float = 1e-13
    newton_iter: int = 60
    crit_tol: float = 1e-9
    dedup_tol: float = 1e-5
    eig_tau: float = 1e-9
    cubic_margin: float = 1e-6
    kink_tol: float = 1e-8
    angle_grid: int = 7200
    value_tol: float = 1e-6
    path_scales: tuple[float, ...] = (1.0, 2.0, 4.0, 16.0, 256.0)
    escapes: int = 3
    escape_step: float = 0.1
    # quick: n = 5 has two certified claims minima 0.18655 and 0.20920 (12% apart), so the
    # erratum is exercised (n = 4 gave two minima 4.5e-6 apart)
    QUICK = {"n": 5, "runs": 6, "single_runs": 3, "maxiter": 200}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 2", "lam_scales": "nonempty, > 0", "runs": ">= 1", "single_runs": ">= 1",
        "maxiter": ">= 1", "prune_tol": "in [0, 1]", "newton_tol": "> 0", "newton_iter": ">= 1",
        "crit_tol": "> 0", "dedup_tol": "> 0", "eig_tau": "in [0, 1]",
        "cubic_margin": "in [0, 1]", "kink_tol": ">= 0", "angle_grid": ">= 16",
        "value_tol": ">= 0", "path_scales": "nonempty, >= 1",
        "escapes": ">= 0", "escape_step": "> 0"}


# ------------------------------------------------------------------- critical points
@dataclass
class Instance:
    """One data set and regulariser: x, y (n,), lam (m,).

    Args:
        name: ``"single-point"`` or ``"claims"``.
        x: inputs ``(n,)``.
        y: labels ``(n,)``.
        lam: the regularisation weights ``(m,)``.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    lam: np.ndarray

    @property
    def m(self) -> int:
        return len(self.lam)

    def objective(self, reg: bool = True):
        """The instance's objective (:func:`requ_objective` on its data).

        Args:
            reg: whether the cubic regulariser is added.

        Returns:
            ``F``, a rowwise torch function ``(..., 3m) -> (...)``.
        """
        return requ_objective(torch.from_numpy(self.x), torch.from_numpy(self.y),
                              torch.from_numpy(self.lam), reg=reg)


def _restricted(F, theta: np.ndarray, live: np.ndarray, m: int) -> Landscape:
    """F as a function of the parameters of the live neurons (the others fixed at 0)."""
    idx = np.concatenate([live, live + m, live + 2 * m])
    embed = torch.zeros(len(idx), 3 * m, dtype=torch.float64)
    embed[torch.arange(len(idx)), torch.from_numpy(idx)] = 1.0

    def G(t: torch.Tensor) -> torch.Tensor:
        return F(t @ embed)

    return Landscape.from_function(G, len(idx), rowwise=True,
                                   theta0=torch.from_numpy(theta[idx]))


def refine(inst: Instance, theta: np.ndarray, p: ReQUParams) -> np.ndarray:
    """Prune dead or vanishing neurons to exact zeros, then Newton on the live ones.

    Args:
        inst: the instance.
        theta: the point ``(3m,)``.
        p: the parameters (``prune_tol``, ``newton_tol``, ``newton_iter``).

    Returns:
        The refined point ``(3m,)``.
    """
    m, x = inst.m, inst.x
    t = theta.copy()
    a, w, b = t[:m], t[m:2 * m], t[2 * m:]
    size = np.sqrt(a * a + w * w + b * b)
    active = (np.outer(x, w) + b > 0).any(0)
    live = np.flatnonzero((size >= p.prune_tol * size.max()) & active)
    dead = np.setdiff1d(np.arange(m), live)
    t[dead] = t[dead + m] = t[dead + 2 * m] = 0.0
    if live.size == 0:
        return t
    idx = np.concatenate([live, live + m, live + 2 * m])
    return newton_lm(requ_fun_grad(x, inst.y, inst.lam), requ_hessian(x, inst.y, inst.lam), t,
                     idx, tol=p.newton_tol, max_iter=p.newton_iter)


def classify_point(inst: Instance, theta: np.ndarray, p: ReQUParams, *, library: bool = False) -> dict:
    """Classify a refined point (see the module docstring); returns one table row.

    The live block's inertia comes from the analytic Hessian (:func:`requ_hessian`, same
    ``eig_tau`` rule) or, with ``library``, from :func:`valleys.critical.classify` on the
    autograd Hessian; the library route also stores the analytic route's inertia
    (``inertia_agrees``).

    Args:
        inst: the instance.
        theta: the refined point ``(3m,)``.
        p: the parameters.
        library: classify the live block with :func:`valleys.critical.classify` instead.

    Returns:
        The row (value, gradient norm, kind, inertia, descent information ...).
    """
    m, x, y, lam = inst.m, inst.x, inst.y, inst.lam
    F = inst.objective()
    tt = torch.from_numpy(theta)
    value = float(F(tt))
    _, gfull = requ_fun_grad(x, y, lam)(theta)
    gnorm = float(np.linalg.norm(gfull))
    a, w, b = theta[:m], theta[m:2 * m], theta[2 * m:]
    live = np.flatnonzero((a != 0) | (w != 0) | (b != 0))
    zero = np.setdiff1d(np.arange(m), live)
    f = requ_outputs(theta, x, m)
    row = {"value": value, "grad_norm": gnorm, "live": len(live),
           "live_neurons": " ".join(map(str, live)), "train_errors": int((np.sign(f) != y).sum()),
           "param_norm": float(np.linalg.norm(theta))}
    c_star, phi = cubic_coefficient(loss_derivatives(theta, x, y, m), x, grid=p.angle_grid)
    ratios = c_star / lam[zero] if zero.size else np.array([])
    row.update(c_star=c_star, c_star_angle=phi,
               max_cubic_ratio=float(ratios.max()) if ratios.size else float("nan"))
    kink = float("inf")
    if live.size:
        u = np.sqrt(w[live] ** 2 + b[live] ** 2)
        kink = float((np.abs(np.outer(x, w[live]) + b[live]) / u).min())
    row["kink_distance"] = kink
    if gnorm > p.crit_tol:
        row.update(kind=NOT_CRITICAL, reason=f"||grad|| = {gnorm:.2e} > crit_tol",
                   lambda_min=float("nan"), nullity=-1, index=-1)
        return row
    lmin, index, nullity, cp = float("inf"), 0, 0, None
    if live.size:
        idx = np.concatenate([live, live + m, live + 2 * m])
        ev, V = np.linalg.eigh(requ_hessian(x, y, lam)(theta)[np.ix_(idx, idx)])
        thr = p.eig_tau * float(np.abs(ev).max())
        lmin, index, nullity = float(ev[0]), int((ev < -thr).sum()), int((np.abs(ev) <= thr).sum())
        cp = V[:, 0]
        if library:
            land = _restricted(F, theta, live, m)
            lib = classify(land, land.theta0, tau=p.eig_tau, grad_tol=1.0)
            row["inertia_agrees"] = (int(lib.index), int(lib.nullity)) == (index, nullity)
            row["hessian_rel_diff"] = float(np.abs(lib.eigenvalues - ev).max() / np.abs(ev).max())
            lmin, index, nullity = float(lib.eigenvalues[0]), int(lib.index), int(lib.nullity)
    row.update(lambda_min=lmin, index=index, nullity=nullity)
    descent = bool(ratios.size) and bool((ratios > 1 + p.cubic_margin).any())
    strict = not ratios.size or bool((ratios < 1 - p.cubic_margin).all())
    smooth = kink > p.kink_tol
    if index > 0 and smooth:
        kind, why = SADDLE, f"{index} negative eigenvalue(s), lambda_min = {lmin:.3g}"
    elif not smooth:
        kind, why = UNDETERMINED, f"kink at a data point (distance {kink:.2e}): F is only C^1"
    elif nullity > 0:
        kind, why = UNDETERMINED, f"live block has {nullity} zero eigenvalue(s)"
    elif descent:
        kind, why = SADDLE, (f"zero neuron with C*/lambda_k = {ratios.max():.6f} > 1: cubic "
                             "descent direction")
    elif strict:
        kind, why = LOCAL_MIN, (f"live block positive definite (lambda_min = {lmin:.3g}), zero "
                                f"neurons C*/lambda_k <= {row['max_cubic_ratio']:.4f} < 1")
    else:
        kind, why = UNDETERMINED, "a zero neuron has C*/lambda_k within cubic_margin of 1"
    row.update(kind=kind, reason=why)
    if kind == SADDLE and index == 0:
        k = int(zero[np.argmax(ratios)])
        sign = -np.sign(np.sum(loss_derivatives(theta, x, y, m)
                               * np.maximum(np.cos(phi) * x + np.sin(phi), 0.0) ** 2))
        row["_descent"] = (k, float(sign), phi)
    elif kind == SADDLE:
        row["_descent"] = ("eig", np.concatenate([live, live + m, live + 2 * m]), cp)
    return row


def descent_point(inst: Instance, theta: np.ndarray, row: dict, step: float) -> np.ndarray:
    """A point near a saddle with a lower F: for a cubic saddle, the zero neuron k placed at
    the maximising direction with a = -sign(c) step, u = step (cos phi, sin phi); for a
    second-order saddle, a step along the eigenvector of the most negative eigenvalue.

    Args:
        inst: the instance.
        theta: the saddle ``(3m,)``.
        row: its row from :func:`classify_point` (holds the descent information).
        step: the step length.

    Returns:
        The nearby point ``(3m,)``.
    """
    m = inst.m
    t = theta.copy()
    info = row["_descent"]
    if info[0] == "eig":
        _, idx, vec = info
        t[idx] += step * max(1.0, float(np.linalg.norm(theta))) * vec
        return t
    k, sign, phi = info
    t[k], t[m + k], t[2 * m + k] = sign * step, step * math.cos(phi), step * math.sin(phi)
    return t


def critical_points(inst: Instance, runs: int, p: ReQUParams, rng: np.random.Generator):
    """Multi-start L-BFGS + pruning + Newton, with saddle escapes: an end point classified
    as a saddle is left along its descent direction (``escape_step``) and searched again,
    and one where Newton did not converge is searched again from the pruned point, up to
    ``escapes`` times. Returns (per-search table, distinct points table, distinct
    points (K, 3m)); every refined end point (saddles on the way included) is kept.

    Args:
        inst: the instance.
        runs: L-BFGS starts.
        p: the parameters.
        rng: the NumPy generator of the starts.

    Returns:
        ``(runs table, distinct points table, distinct points (K, 3m))``.
    """
    fg = requ_fun_grad(inst.x, inst.y, inst.lam)
    starts = rng.standard_normal((runs, 3 * inst.m))
    ends, rows = [], []
    for r in progress(range(runs), f"sun-requ {inst.name}"):
        t0 = starts[r]
        for e in range(p.escapes + 1):
            t, v, g = lbfgs(fg, t0, maxiter=p.maxiter, gtol=1e-14)
            t = refine(inst, t, p)
            row = classify_point(inst, t, p)
            ends.append(t)
            rows.append({"instance": inst.name, "run": r, "escape": e, "lbfgs_value": v,
                         "lbfgs_grad": g, "kind": row["kind"], "value": row["value"]})
            if row["kind"] == NOT_CRITICAL:
                t0 = t  # Newton did not converge: more L-BFGS from the pruned point
            elif "_descent" in row:
                t0 = descent_point(inst, t, row, p.escape_step)
            else:
                break
    ends = np.array(ends)
    cl = deduplicate(torch.from_numpy(ends), tol=p.dedup_tol)
    points = []
    for k, theta in enumerate(cl.representatives.numpy()):
        row = classify_point(inst, theta, p, library=True)
        row.pop("_descent", None)
        row.update(instance=inst.name, point=k, count=int(cl.counts[k]))
        points.append(row)
    runs_t = pd.DataFrame(rows).assign(point=cl.labels.numpy())
    return runs_t, pd.DataFrame(points), cl.representatives.numpy()


# ------------------------------------------------------------------------- experiment
def make_instances(p: ReQUParams, rng: np.random.Generator) -> list[tuple[float, Instance, Instance]]:
    """(scale, single-point instance, claims instance) per lambda scale. The data and the
    U(0.5, 1.5) factors are drawn once and shared by all scales. Labels are redrawn until
    both classes occur.

    Args:
        p: the parameters.
        rng: the NumPy generator.

    Returns:
        One ``(lambda scale, single-point instance, claims instance)`` per scale.
    """
    x = np.sort(rng.uniform(-1.0, 1.0, p.n))
    y = rng.choice([-1.0, 1.0], p.n)
    while abs(y.sum()) == p.n:
        y = rng.choice([-1.0, 1.0], p.n)
    u_claims = rng.uniform(0.5, 1.5, p.n + 1)
    x1, y1 = rng.uniform(-1.0, 1.0), float(rng.choice([-1.0, 1.0]))
    u_single = rng.uniform(0.5, 1.5, 2)
    return [(s, Instance("single-point", np.array([x1]), np.array([y1]), s * u_single),
             Instance("claims", x, y, s * u_claims)) for s in p.lam_scales]


def _check_descent(inst: Instance, theta: np.ndarray, row: dict, step: float) -> bool:
    """The explicit descent direction of a saddle lowers F (at step/10)."""
    F = inst.objective()
    moved = descent_point(inst, theta, row, step / 10)
    return float(F(torch.from_numpy(moved))) < float(F(torch.from_numpy(theta)))


def _probe_minimum(inst: Instance, theta: np.ndarray, radius: float, k: int,
                   rng: np.random.Generator) -> float:
    """min over k random points at distance radius of F(theta + d) - F(theta)."""
    F = inst.objective()
    d = rng.standard_normal((k, theta.size))
    d *= radius / np.linalg.norm(d, axis=1, keepdims=True)
    th = torch.from_numpy(theta)
    return float((F(th + torch.from_numpy(d)) - F(th)).min())


def measure(p: ReQUParams) -> Measurement:
    """Per lambda scale, the distinct critical points of the single-point and claims instances
    (certified, saddles checked along their descent direction, minima probed) and the
    control path (c a, w, b) from every certified claims minimum.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    rng = check_rng(p.seed)
    tables, runs_tables, minima = [], [], {}
    for scale, single, claims in make_instances(p, rng):
        for inst, runs in ((single, p.single_runs), (claims, p.runs)):
            runs_t, pts, reps = critical_points(inst, runs, p, rng)
            pts = pts.assign(lam_scale=scale, n=len(inst.x), m=inst.m,
                             lam_min=float(inst.lam.min()))
            pts["descent_checked"] = [
                _check_descent(inst, reps[k], classify_point(inst, reps[k], p), p.escape_step)
                if kind == SADDLE else None for k, kind in zip(pts.point, pts.kind, strict=True)]
            pts["probe_min_change"] = [
                _probe_minimum(inst, reps[k], p.escape_step / 100, 64, rng)
                if kind == LOCAL_MIN else float("nan")
                for k, kind in zip(pts.point, pts.kind, strict=True)]
            tables.append(pts)
            runs_tables.append(runs_t.assign(lam_scale=scale))
            mins = pts[pts.kind == LOCAL_MIN]
            minima[(inst.name, scale)] = (inst, reps[mins.point.to_numpy()], mins)
    table = pd.concat(tables, ignore_index=True)
    runs_all = pd.concat(runs_tables, ignore_index=True)
    path = pd.DataFrame(_control_path(minima, p))
    table = pd.concat([table, path], ignore_index=True)
    coordinates = [{"instance": name, "lam_scale": scale, "point": int(point),
                    "value": float(value), "theta": theta.tolist()}
                   for (name, scale), (_, reps, mins) in minima.items()
                   for theta, point, value in zip(reps, mins.point, mins.value, strict=True)]
    summary = {"minima": coordinates,
               "runs": runs_all.groupby(["instance", "lam_scale", "kind"]).size()
               .rename("count").reset_index().to_dict("records"),
               "instances": {f"{k[0]}@{k[1]:g}": {"x": v[0].x.tolist(), "y": v[0].y.tolist(),
                                                   "lam": v[0].lam.tolist()}
                             for k, v in minima.items()}}
    return Measurement(table, summary, extras={"minima": minima})


def judge(m: Measurement, p: ReQUParams) -> Verdict:
    """Single-point instances: every certified minimum at the closed-form global value; claims
    instances: zero training errors at every certified minimum (and the erratum: not all global);
    saddles, inertia, probes and the control path as consistency.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    verdict = Verdict()
    table = m.table[m.table.instance != "control-path"]
    path = m.table[m.table.instance == "control-path"]
    covered = (table.m >= table.n + 1) & (table.lam_min > 0)
    verdict.hypothesis("m >= n + 1 neurons and lambda_j > 0", f"{int(covered.sum())} of {len(table)} "
                       "distinct points", "all", bool(covered.any()),
                       note="per instance: the number of data points n, of neurons m and the "
                            "smallest lambda_j; points of instances outside are left out (lambda_0 "
                            "and the null set C are not given by the seed and cannot be checked)")
    for (scale, name), pts in table.groupby(["lam_scale", "instance"], sort=False):
        tag = f"{name}, lambda scale {scale:g}"
        if not covered[pts.index].any():
            verdict.not_covered(f"{tag}: the certified local minima", "global, zero training errors",
                                note=f"m = {int(pts.m.iloc[0])}, n = {int(pts.n.iloc[0])}, smallest "
                                     f"lambda_j = {float(pts.lam_min.iloc[0]):.3g}: outside the theorem")
            continue
        mins = pts[pts.kind == LOCAL_MIN]
        counts = pts.kind.value_counts().to_dict()
        best_any = float(pts.value.min())
        if name == "single-point":
            inst = m.summary["instances"][f"{name}@{scale:g}"]
            star = single_point_minimum(float(inst["x"][0]), float(inst["y"][0]),
                                        np.asarray(inst["lam"], dtype=np.float64))
            tol = p.value_tol * abs(star)
            gap = float((mins.value - star).abs().max()) if len(mins) else float("inf")
            verdict.add(f"{tag}: every certified local minimum equals the closed-form "
                        "global minimum (relative)", gap / abs(star), 0.0, p.value_tol,
                        len(mins) >= 1 and gap <= tol,
                        note=f"F* = {star:.12g} (closed form); {len(mins)} certified "
                             f"minima; distinct points by kind: {counts}", kind="evidence")
            verdict.add(f"{tag}: no point below the closed-form global minimum (relative)",
                        (best_any - star) / abs(star), ">= 0", p.value_tol, best_any >= star - tol,
                        kind="evidence")
            continue
        errors = int(mins.train_errors.max()) if len(mins) else -1
        verdict.add(f"{tag}: zero training errors at every certified local minimum",
                    errors, 0, None, len(mins) >= 1 and errors == 0,
                    note=f"{len(mins)} distinct certified local minima; distinct points "
                         f"by kind: {counts}", kind="evidence")
        worst = float(mins.value.max()) if len(mins) else float("nan")
        excess = (worst - best_any) / abs(best_any)
        name_e = (f"{tag}: erratum reproduced, a certified local minimum is NOT global (seed: every "
                  "local minimum is global)")
        values = (f"{len(mins)} distinct certified local minima take "
                  f"{len(set(np.round(mins.value, 9)))} values in [{float(mins.value.min()):.9f}, "
                  f"{worst:.9f}], all with zero training errors: {errors == 0}; the lowest value at "
                  f"any computed point (an upper bound on the global minimum) is {best_any:.9f}; "
                  f"coordinates in the summary's 'minima'")
        if len(mins) >= 1 and excess > p.value_tol:
            verdict.add(name_e, excess, f"> {p.value_tol:g} (relative)", p.value_tol, True,
                        note=f"erratum confirmed: {values}. The seed leaves lambda_0 unspecified: "
                             "this refutes the claim at these lambda_j, not for every smaller "
                             "lambda_0", kind="erratum")
        else:
            verdict.add(name_e, excess, f"> {p.value_tol:g} (relative)", p.value_tol, False,
                        note=f"erratum NOT reproduced by these runs: {values}. Not finding a "
                             "non-global minimum neither refutes the erratum (an existence "
                             "statement, reproduced by the default preset) nor is evidence for the "
                             "seed: no decision (more runs may find one)",
                        kind="erratum", status="not reproduced")
    saddles = table[table.kind == SADDLE]
    mins = table[table.kind == LOCAL_MIN]
    verdict.add("every saddle's explicit descent direction lowers F",
                int(saddles.descent_checked.astype(bool).sum()), len(saddles), None,
                bool(saddles.descent_checked.astype(bool).all()), kind="consistency")
    crit = table[(table.kind != NOT_CRITICAL) & (table.live > 0)]
    agree = crit.inertia_agrees.astype(bool)
    verdict.add("live-block inertia: analytic Hessian = autograd Hessian (classify) at every "
                "distinct critical point", f"{int(agree.sum())}/{len(crit)}", "all",
                p.eig_tau, bool(agree.all()),
                note=f"max relative eigenvalue difference {float(crit.hessian_rel_diff.max()):.2g}",
                kind="consistency")
    verdict.add("no random probe (radius escape_step/100, 64 directions) lowers F at a "
                "certified local minimum", float(mins.probe_min_change.min()), ">= 0", 0.0,
                bool((mins.probe_min_change >= 0).all()), kind="consistency")
    no_reg = path[path.regulariser == "none"]
    dec = no_reg.groupby(["lam_scale", "point"]).loss.apply(lambda v: bool(np.all(np.diff(v) < 0)))
    with_reg = path[path.regulariser == "on"].groupby(["lam_scale", "point"]).loss.last()
    first = path[path.regulariser == "on"].groupby(["lam_scale", "point"]).loss.first()
    verdict.add("control (lambda = 0): from every certified claims minimum, (c a, w, b) is a "
                "decreasing path to infinity; with the regulariser F grows along it",
                f"{int(dec.sum())}/{len(dec)} decreasing, {int((with_reg > first).sum())}/"
                f"{len(first)} growing", "all", None,
                len(dec) >= 1 and bool(dec.all()) and bool((with_reg > first).all()),
                note="no minimum exists without the regulariser (the seed's caveat); "
                     "coercivity removes the path", kind="consistency")
    return verdict


def draw(m: Measurement, p: ReQUParams) -> dict:
    """Distinct critical points of the claims instance and the certified minima's outputs.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name.
    """
    return _figures(m.table, m.extras["minima"], p)


sun_requ = experiment(
    "sun-requ", source=SOURCE_001 + ", Thm 4.3 (regularised one-layer ReQU network)",
    claim="SUN-T4.3: with m >= n+1 ReQU neurons, logistic loss and the cubic "
          "regulariser, every local minimum is global with zero training error",
    params=ReQUParams, judge=judge, draw=draw)(measure)


def _control_path(minima: dict, p: ReQUParams) -> list[dict]:
    rows = []
    for (name, scale), (inst, reps, mins) in minima.items():
        if name != "claims":
            continue
        for theta, point in zip(reps, mins.point, strict=True):
            for reg, F in (("none", inst.objective(reg=False)), ("on", inst.objective())):
                for c in p.path_scales:
                    t = theta.copy()
                    t[:inst.m] *= c
                    rows.append({"instance": "control-path", "lam_scale": scale, "point": point,
                                 "regulariser": reg, "c": c,
                                 "loss": float(F(torch.from_numpy(t)))})
    return rows


def _figures(table: pd.DataFrame, minima: dict, p: ReQUParams) -> dict:
    fig, (ax0, ax1) = figure(2, width=5.0)
    colours = {LOCAL_MIN: "C0", SADDLE: "C3", UNDETERMINED: "C1", NOT_CRITICAL: "0.6"}
    crit = table[table.instance == "claims"]
    best = crit.groupby("lam_scale").value.transform("min")
    crit = crit.assign(excess=crit.value - best)
    scales = list(p.lam_scales)
    jitter = np.linspace(-0.3, 0.3, 7)
    for kind, c in colours.items():
        if kind == NOT_CRITICAL:
            continue
        sub = crit[crit.kind == kind]
        xs = [scales.index(s) + jitter[i % 7] for i, s in enumerate(sub.lam_scale)]
        ax0.scatter(xs, sub.excess, s=18, color=c, label=kind, alpha=0.8)
    ax0.axhline(p.value_tol * float(crit.value.abs().min()), color="k", lw=0.8, ls="--",
                label="value_tol (relative)")
    ax0.set(xticks=range(len(scales)), xticklabels=[f"{s:g}" for s in scales],
            xlabel="lambda scale", ylabel="F - lowest F found", yscale="symlog",
            xlim=(-0.6, len(scales) - 0.4),
            title="claims instance: distinct critical points")
    ax0.set_yscale("symlog", linthresh=1e-8)
    ax0.set_ylim(bottom=0.0)
    ax0.legend(fontsize=7)
    inst, reps, mins = minima[("claims", p.lam_scales[len(p.lam_scales) // 2])]
    grid = np.linspace(-1.2, 1.2, 400)
    for theta, v in zip(reps, mins.value, strict=True):
        f = requ_outputs(theta, grid, inst.m)
        ax1.plot(grid, np.tanh(f / 5), lw=1, label=f"F = {v:.4f}")
    ax1.scatter(inst.x, inst.y * 0.9, c=np.where(inst.y > 0, "C2", "C4"), zorder=3, label="data")
    ax1.set(xlabel="x", ylabel="tanh(f(x) / 5)",
            title=f"certified local minima, lambda scale {p.lam_scales[len(p.lam_scales) // 2]:g}")
    ax1.legend(fontsize=6)
    return {"critical_points": fig}
