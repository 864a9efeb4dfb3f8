"""Document 001 (Sun et al. survey): three data points and a sigmoid (SUN-P3.2).

``sun-sigmoid-three-points``: for \\(n \\ge 3\\) distinct scalars \\(x_i\\) and the sigmoid
\\(\\varphi\\), some targets \\(y\\) make \\(L(u, v) = \\sum_i(y_i - u\\varphi(vx_i))^2\\) have a
sub-optimal local minimum. The proposition is existential; the experiment constructs such
targets.

Search (CLAIMS.md: random search over \\(y\\in\\mathbb R^3\\) for \\(x = (-1, 0.5, 2)\\)): per
random \\(y\\), the profile \\(g(v) = \\min_u L(u, v) = \\|y\\|^2 - (\\varphi_v^\\top y)^2/\\|\\varphi_v\\|^2\\)
on a grid of \\(v\\) proposes interior local minima; each is refined by Levenberg–Marquardt
Newton (:func:`valleys.optim.newton.newton_lm`) on the two-parameter landscape itself (autograd
gradient and Hessian, separate from the profile's closed form) and certified: gradient norm
\\(\\le\\) ``grad_tol`` and a positive-definite Hessian (a strict local minimum, up to the
rounding of the gradient). A \\(y\\) is a certificate when two certified minima have values
that differ by more than ``gap_tol``: the higher one is a sub-optimal local minimum.
Multi-start gradient descent then shows each certified sub-optimal minimum attracts runs
(the fraction is reported: the survey's probabilistic blueprint, SUN-Principle).

Each instance records its hypothesis quantities: the number of points, whether they are
distinct, and the activation; an instance outside (fewer than 3 points, a repeated point, not
the sigmoid) is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from ..._validation import check_generator, check_rng
from ...core import Landscape
from ...critical import armijo_descent_batch
from ...optim.newton import newton_lm
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001


@dataclass(frozen=True)
class SigmoidParams(Params):
    """Parameters of ``sun-sigmoid-three-points``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        x: the data points (CLAIMS.md: -1, 0.5, 2).
        y_range: targets are drawn uniformly from [-y_range, y_range]^n.
        instances: certificates to construct (distinct random targets).
        max_tries: random targets tried at most.
        v_lim: half-width of the profile grid of v on [-v_lim, v_lim]; only grid minima with
            |v| <= 0.8 v_lim are proposed (farther ones may be minima at infinity).
        v_points: number of points of that profile grid.
        grad_tol: a refined point is critical when ||grad L|| <= grad_tol (CLAIMS.md: 1e-10).
        eig_rtol: its Hessian is positive definite when lambda_min > eig_rtol * max(1, lambda_max)
            (1e-6: with ||grad|| <= 1e-10 the critical point lies within ||grad|| / lambda_min
            <= 1e-4 of the refined point, where the Hessian stays positive definite).
        gap_tol: two certified minima are distinct local minima of different value when their
            losses differ by more than gap_tol.
        newton_iter: Levenberg–Marquardt iterations of the refinement.
        gd_starts: gradient-descent starts per certificate (N(0, gd_std^2 I) in (u, v)).
        gd_std: their standard deviation.
        gd_steps: steps of the (Armijo) descent.
        gd_lr: initial step size of the (Armijo) descent.
        near: a GD end is at a certified minimum when within this distance of it.
    """

    x: tuple[float, ...] = (-1.0, 0.5, 2.0)
    y_range: float = 3.0
    instances: int = 20
    max_tries: int = 2000
    v_lim: float = 30.0
    v_points: int = 6001
    grad_tol: float = 1e-10
    eig_rtol: float = 1e-6
    gap_tol: float = 1e-6
    newton_iter: int = 100
    gd_starts: int = 500
    gd_std: float = 3.0
    gd_steps: int = 3000
    gd_lr: float = 0.5
    near: float = 1e-3
    QUICK = {"instances": 3, "gd_starts": 200, "gd_steps": 1500}
    LIMITS: ClassVar[dict[str, str]] = {"x": "nonempty", "y_range": "> 0", "instances": ">= 1",
                                        "max_tries": ">= 1", "v_lim": "> 0", "v_points": ">= 5",
                                        "grad_tol": "> 0", "eig_rtol": ">= 0", "gap_tol": ">= 0",
                                        "newton_iter": ">= 1", "gd_starts": ">= 1", "gd_std": "> 0",
                                        "gd_steps": ">= 1", "gd_lr": "> 0", "near": "> 0"}


def sigmoid_landscape(x: np.ndarray, y: np.ndarray) -> Landscape:
    r"""The landscape \(L(u, v) = \sum_i (y_i - u\,\sigma(v x_i))^2\) of SUN-P3.2.

    Args:
        x: the data points ``(n,)``.
        y: the targets ``(n,)``.

    Returns:
        A two-parameter :class:`~valleys.core.Landscape` (coordinates u, v).
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64))
    return Landscape.from_function(
        lambda t: ((yt - t[..., 0, None] * torch.sigmoid(t[..., 1, None] * xt)) ** 2).sum(-1), 2,
        names=("u", "v"), rowwise=True)


def profile_minima(x: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""Interior grid minima of the profile \(g(v) = \|y\|^2 - (\varphi_v^\top y)^2/\|\varphi_v\|^2\).

    Args:
        x: the data points ``(n,)``.
        y: the targets ``(n,)``.
        v: the grid of v (increasing).

    Returns:
        The indices of the grid points strictly below both neighbours.
    """
    phi = expit(np.outer(v, x))
    g = y @ y - (phi @ y) ** 2 / (phi ** 2).sum(1)
    return np.flatnonzero((g[1:-1] < g[:-2]) & (g[1:-1] < g[2:])) + 1


def _certify(land: Landscape, theta0: np.ndarray, p: SigmoidParams) -> dict:
    """Refine a start by LM-Newton on the landscape and return its certificate quantities."""
    def fun_grad(t):
        tt = torch.as_tensor(t)
        value, g = land.loss_and_grad(tt)
        return float(value), g.numpy()

    res = newton_lm(fun_grad, lambda t: land.hessian(torch.as_tensor(t)).numpy(), theta0,
                    grad_tol=p.grad_tol, max_iter=p.newton_iter)
    t = torch.as_tensor(res.x)
    eig = torch.linalg.eigvalsh(land.hessian(t))
    return {"u": float(t[0]), "v": float(t[1]), "loss": float(land.loss(t)),
            "grad_norm": float(land.grad(t).norm()), "eig_min": float(eig[0]), "eig_max": float(eig[-1])}


def measure(p: SigmoidParams) -> Measurement:
    """Random targets, profile proposals, Newton-refined and certified minima, and GD from random
    starts at every certificate.

    Args:
        p: the parameters.

    Returns:
        The measurement: one row per certified pair of minima (``instance``, the targets, the
        hypothesis quantities ``n_points``, ``distinct_points``, ``activation``, and for the
        ``low`` and ``high`` minimum: u, v, loss, gradient norm, Hessian eigenvalues), with the
        GD fractions ending at each; the summary counts the tries.
    """
    x = np.asarray(p.x, dtype=np.float64)
    rng = check_rng(p.seed)
    gen = check_generator(p.seed)
    v_grid = np.linspace(-p.v_lim, p.v_lim, p.v_points)
    rows, tries = [], 0
    bar = progress(range(p.max_tries), "targets")
    for _ in bar:
        if len(rows) >= p.instances:
            break
        tries += 1
        y = rng.uniform(-p.y_range, p.y_range, len(x))
        idx = [i for i in profile_minima(x, y, v_grid) if abs(v_grid[i]) <= 0.8 * p.v_lim]
        if len(idx) < 2:
            continue
        land = sigmoid_landscape(x, y)
        phi = expit(np.outer(v_grid[idx], x))
        starts = [np.array([float(phi[k] @ y / (phi[k] @ phi[k])), float(v_grid[i])]) for k, i in enumerate(idx)]
        found = [_certify(land, s, p) for s in starts]
        good = [f for f in found
                if f["grad_norm"] <= p.grad_tol and f["eig_min"] > p.eig_rtol * max(1.0, f["eig_max"])]
        if len(good) < 2:
            continue
        low, high = min(good, key=lambda f: f["loss"]), max(good, key=lambda f: f["loss"])
        if high["loss"] - low["loss"] <= p.gap_tol:
            continue
        gd = p.gd_std * torch.randn(p.gd_starts, 2, generator=gen, dtype=torch.float64)
        ends = armijo_descent_batch(land, gd, lr=p.gd_lr, steps=p.gd_steps).thetas
        at = {k: int(((ends - torch.tensor([f["u"], f["v"]], dtype=ends.dtype)).norm(dim=1) <= p.near).sum())
              for k, f in (("low", low), ("high", high))}
        rows.append({"instance": len(rows), **{f"y{i}": float(val) for i, val in enumerate(y)},
                     "n_points": len(x), "distinct_points": int(len(np.unique(x))), "activation": "sigmoid",
                     **{f"{k}_{q}": f[q] for k, f in (("low", low), ("high", high)) for q in f},
                     "gd_runs": p.gd_starts, "gd_at_low": at["low"], "gd_at_high": at["high"]})
    table = pd.DataFrame(rows)
    return Measurement(table, {"tries": tries, "x": [float(v) for v in x]}, extras={"x": x})


def judge(m: Measurement, p: SigmoidParams) -> Verdict:
    """Instances with n >= 3 distinct points and the sigmoid; among them, at least one certified
    sub-optimal local minimum, attracting GD runs.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The verdict.
    """
    t = m.table
    verdict = Verdict()
    names = ("certified sub-optimal local minimum (gradient <= tol, Hessian positive definite, "
             "value above a certified lower minimum)",
             "GD runs from random starts end at certified sub-optimal minima")
    if t.empty:
        for name in names:
            verdict.not_covered(name, ">= 1 instance", note=f"no certificate in {m.summary['tries']} random targets")
        return verdict
    ok = (t["n_points"] >= 3) & (t["distinct_points"] == t["n_points"]) & (t["activation"] == "sigmoid")
    verdict.hypothesis("n >= 3 distinct points, sigmoid activation (SUN-P3.2)", f"{int(ok.sum())} of {len(t)} "
                       "instances", "all", bool(ok.any()))
    if not ok.any():
        for name in names:
            verdict.not_covered(name, ">= 1 instance", note="no instance meets SUN-P3.2's hypotheses")
        return verdict
    c = t[ok]
    cert = ((c["high_grad_norm"] <= p.grad_tol) & (c["high_eig_min"] > p.eig_rtol * c["high_eig_max"].clip(lower=1))
            & (c["low_grad_norm"] <= p.grad_tol) & (c["low_eig_min"] > p.eig_rtol * c["low_eig_max"].clip(lower=1))
            & (c["high_loss"] - c["low_loss"] > p.gap_tol))
    first = c[cert].iloc[0] if cert.any() else c.iloc[0]
    verdict.add(names[0], int(cert.sum()), f">= 1 of {len(c)}", p.grad_tol, bool(cert.any()),
                note=f"x = {m.summary['x']}; first: y = ({first.y0:.4f}, {first.y1:.4f}, {first.y2:.4f}), "
                     f"sub-optimal minimum (u, v) = ({first.high_u:.6f}, {first.high_v:.6f}) with L = "
                     f"{first.high_loss:.10f} (|grad| {first.high_grad_norm:.1e}, Hessian eigenvalues "
                     f"{first.high_eig_min:.3g}, {first.high_eig_max:.3g}) against L = {first.low_loss:.10f} at "
                     f"({first.low_u:.6f}, {first.low_v:.6f}); {m.summary['tries']} targets tried; LM-Newton on "
                     f"the autograd landscape from the profile's grid minima", kind="evidence")
    att = c[cert]
    n_att = int((att["gd_at_high"] > 0).sum())
    verdict.add(names[1], f"{n_att} of {len(att)} certificates", ">= 1 certificate", p.near, n_att >= 1,
                note="fraction of runs ending at the sub-optimal / the lower minimum per certificate: "
                     + ", ".join(f"{r.gd_at_high / r.gd_runs:.1%} / {r.gd_at_low / r.gd_runs:.1%}"
                                 for r in att.itertuples())
                     + f" (Armijo GD, {p.gd_steps} steps, starts N(0, {p.gd_std:g}^2 I)); a basin of attraction "
                       "of positive measure, which a saddle would not have; a minimum whose basin is small or "
                       "flat (u near 0) may catch no run in a finite sample", kind="evidence")
    return verdict


def draw(m: Measurement, p: SigmoidParams) -> dict:
    """The landscape of the first certificate with its two minima.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        ``{"landscape": figure}`` (an empty panel when nothing was certified).
    """
    fig, (ax,) = figure()
    t = m.table
    if not t.empty:
        r = t.iloc[0]
        land = sigmoid_landscape(m.extras["x"], np.array([r.y0, r.y1, r.y2]))
        us = np.linspace(min(r.low_u, r.high_u) - 3, max(r.low_u, r.high_u) + 3, 121)
        vs = np.linspace(min(r.low_v, r.high_v) - 3, max(r.low_v, r.high_v) + 3, 121)
        grid = torch.cartesian_prod(torch.as_tensor(us), torch.as_tensor(vs))
        z = land.losses(grid).reshape(len(us), len(vs)).numpy()
        ax.contourf(us, vs, np.log1p(z).T, levels=30)
        ax.plot([r.low_u], [r.low_v], "w*", ms=12, label=f"lower minimum L = {r.low_loss:.4f}")
        ax.plot([r.high_u], [r.high_v], "r*", ms=12, label=f"sub-optimal minimum L = {r.high_loss:.4f}")
        ax.legend(fontsize=7)
    ax.set(xlabel="u", ylabel="v", title="SUN-P3.2: sigmoid, three points")
    return {"landscape": fig}


sun_sigmoid_three_points = experiment(
    "sun-sigmoid-three-points", source=SOURCE_001 + ", Proposition 3.2 (three points, sigmoid)",
    claim="SUN-P3.2: for x = (-1, 0.5, 2) and the sigmoid some targets y give sum (y_i - u phi(v x_i))^2 "
          "a certified sub-optimal local minimum",
    params=SigmoidParams, judge=judge, draw=draw)(measure)
