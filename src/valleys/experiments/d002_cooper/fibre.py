"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

``cooper-fibre``: the loss on a fibre (fixed inner parameters p_I, free last layer
(M_l, b_l)) and what Cooper's §5 derives from it.

* COO-P5.7: L restricted to a fibre is a quadratic in (M_l, b_l): L along random lines of the
  fibre is fitted by a degree-2 polynomial to rounding (a line through the inner parameters is
  not, which shows the fit can fail).
* COO-L5.8: where rank Phi_{l-1} = n, every critical point of the fibre is a global minimum
  with L = 0: critical points are found by Newton's equation of the autodiff fibre Hessian
  (least-squares solution plus random kernel vectors), not by the pseudo-inverse of the
  features that the library's ``fibre_minimum`` uses.
* COO-L5.14: the rank of the fibre's quadratic form (the autodiff fibre Hessian) is at most
  r_hat m_l, r_hat = rank [Phi; 1^T]; the source's r m_l fails where 1 is not in rowspace(Phi)
  (erratum), measured at points whose last hidden layer repeats k < n neurons and at points
  with a dead last hidden layer (Phi = sigma(0) 1 1^T).
* COO-C5.19: the b_l block of the Hessian is 2n I_b at every point, so L has no local maximum
  and the corollary is vacuous.
* COO-P5.13 and COO-LSun: with m_{l-1} > n the last-layer directions delta with
  Phi_hat^T delta = 0 leave L unchanged on a whole line through every point, so no point is a
  strict local minimum (LSun, one hidden layer, any continuous sigma, ReLU included) and no
  local minimum or maximum is isolated (P5.13). COO-L5.12 (the topological step between the
  two) is exercised by the same lines.
* COO-T5.11: for the sigmoid (COO-T5.10's class) and every hidden layer wider than n, the
  straight line from a random p to (p_I, least-squares last layer) decreases strictly to
  L = 0, counted over random draws with an exact interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch.func import hessian as func_hessian

from ..._validation import check_generator
from ...critical.duplication import duplicate_last_hidden, round_robin_sources
from ...curvature.rank import numerical_rank
from ...literature.cooper2020 import cooper_line, fibre_split, flat_fibre_bounds
from ...nets import get_activation
from ...paths import certify
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import ONE_OF_ACTIVATIONS, figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE, _landscape, _parse_widths
from .straight_descent import T510_CLASS

KINDS = ("random", "repeated", "dead")
"""Instance kinds: random points; points whose last hidden layer repeats ``repeat_distinct``
neurons (rank Phi = k < n); points whose last hidden layer is dead (W_{l-1} = 0, b_{l-1} = 0)."""


@dataclass(frozen=True)
class FibreParams(Params):
    """Parameters of ``cooper-fibre``.

    Sizes: CLAIMS.md gives no sizes for §5's fibre statements; the full preset uses n = 20
    with last hidden layers from n/2 to 2n (below and above the hypotheses m_{l-1} > n).

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n: number of samples.
        in_dim: input dimension a.
        nets: hidden and output widths ``"m1/.../m_{l-1}/b"`` (the input width is ``in_dim``).
        activations: activations of the hidden layers (continuous; sigmoid is COO-T5.10's class).
        points: random points per (net, activation) for each instance kind.
        repeat_distinct: distinct neurons k < n of the ``repeated`` points' last hidden layer.
        init_std: standard deviation of the random parameters.
        lines: random lines per point in the fibre (P5.7) and flat directions (P5.13).
        line_t: the lines are sampled at t in [-line_t, line_t] (CLAIMS.md: [-10, 10]).
        line_samples: values of t per line.
        quad_rtol: P5.7 passes when the degree-2 fit's residual <= quad_rtol max|L|.
        critical_points: critical points of the fibre per point (L5.8).
        newton_steps: Newton steps (refinements of the exact quadratic step) per critical point.
        loss_rtol: L5.8 passes when L <= loss_rtol (1 + ||y||^2) at those points.
        zero_tol: relative eigenvalue threshold of the fibre Hessian's rank (L5.14).
        rank_tau: relative singular-value threshold of r, r_hat and rank Phi = n.
        curv_rtol: C5.19 passes when |Hess_{b_l b_l} - 2n I| <= curv_rtol 2n.
        flat_rtol: P5.13 / LSun pass when |L(p + t delta) - L(p)| <= flat_rtol (1 + L(p)).
        line_draws: random points per (net, sigmoid) for COO-T5.11's straight lines.
        line_rtol: T5.11's end loss must be <= line_rtol L(p).
        min_draws: fewer covered T5.11 draws than this give "insufficient draws".
    """

    n: int = 20
    in_dim: int = 3
    nets: tuple[str, ...] = ("24/1", "10/2", "22/22/2", "8/30/1")
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu")
    points: int = 4
    repeat_distinct: int = 5
    init_std: float = 1.0
    lines: int = 3
    line_t: float = 10.0
    line_samples: int = 11
    quad_rtol: float = 1e-10
    critical_points: int = 3
    newton_steps: int = 4
    loss_rtol: float = 1e-12
    zero_tol: float = 1e-8
    rank_tau: float = 1e-10
    curv_rtol: float = 1e-12
    flat_rtol: float = 1e-12
    line_draws: int = 100
    line_rtol: float = 1e-10
    min_draws: int = 20
    QUICK = {"n": 6, "nets": ("8/1", "4/2", "7/7/2"), "activations": ("sigmoid", "tanh", "relu"),
             "points": 1, "repeat_distinct": 2, "lines": 2, "critical_points": 2, "line_draws": 12}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 2", "in_dim": ">= 1", "nets": "nonempty", "activations": "nonempty, " + ONE_OF_ACTIVATIONS,
        "points": ">= 1", "repeat_distinct": ">= 1", "init_std": "> 0", "lines": ">= 1", "line_t": "> 0",
        "line_samples": ">= 4", "quad_rtol": ">= 0", "critical_points": ">= 1", "newton_steps": ">= 1",
        "loss_rtol": ">= 0",
        "zero_tol": "in [0, 1]", "rank_tau": "in [0, 1]", "curv_rtol": ">= 0", "flat_rtol": ">= 0",
        "line_draws": ">= 0", "line_rtol": ">= 0", "min_draws": ">= 1"}

    def validate(self) -> None:
        """Every ``nets`` entry must parse as ``m1/.../b`` with at least one hidden layer."""
        for spec in self.nets:
            _parse_widths(f"{self.in_dim}/{spec}")


def _last_mask(land) -> torch.Tensor:
    depth = len(land.layout.names) // 2
    return land.layout.mask((f"W{depth}", f"b{depth}"))


def _fibre_hessian(land, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fibre's loss gradient and Hessian by autodiff (coordinates of the last layer, in layout order)."""
    mask = _last_mask(land)
    idx = torch.nonzero(mask).squeeze(1)

    def on_fibre(pf):
        return land.loss(theta.index_put((idx,), pf))

    pf = theta[idx]
    g = torch.func.grad(on_fibre)(pf)
    return g, func_hessian(on_fibre)(pf), idx


def _instance(land, widths, kind: str, p: FibreParams, gen) -> torch.Tensor:
    """A point of one instance kind (see :data:`KINDS`)."""
    theta = p.init_std * torch.randn(land.dim, generator=gen, dtype=land.dtype)
    depth = len(widths) - 1
    if kind == "repeated" and p.repeat_distinct < widths[-2]:
        narrow = (*widths[:-2], p.repeat_distinct, widths[-1])
        small = p.init_std * torch.randn(sum((narrow[i - 1] + 1) * narrow[i] for i in range(1, len(narrow))),
                                         generator=gen, dtype=land.dtype)
        theta = duplicate_last_hidden(narrow, small, round_robin_sources(p.repeat_distinct, widths[-2])).theta
        theta = theta.clone()
        # random outgoing weights: the copies' zero columns would make the point special
        theta[land.layout.slice(f"W{depth}")] = p.init_std * torch.randn(
            widths[-1] * widths[-2], generator=gen, dtype=land.dtype)
    elif kind == "dead":
        theta[land.layout.slice(f"W{depth - 1}")] = 0.0
        theta[land.layout.slice(f"b{depth - 1}")] = 0.0
    return theta


def _quadratic_residual(values: np.ndarray, ts: np.ndarray) -> float:
    """Residual of the least-squares degree-2 fit, relative to max |L| on the line."""
    coef = np.polyfit(ts, values, 2)
    return float(np.abs(np.polyval(coef, ts) - values).max() / max(np.abs(values).max(), 1e-300))


def _point_row(land, theta, p: FibreParams, gen) -> dict:
    """Every fibre measurement at one point."""
    n, ysq = land.n_samples, float((land.targets() ** 2).sum())
    split = fibre_split(land, theta)
    b = split.last_bias.shape[0]
    bounds = flat_fibre_bounds(split.features, b, tau=p.rank_tau)
    g, H, idx = _fibre_hessian(land, theta)
    ev = torch.linalg.eigvalsh(H)
    rank_h = numerical_rank(ev, tau=p.zero_tol, warn=False)
    ts = torch.linspace(-p.line_t, p.line_t, p.line_samples, dtype=land.dtype)
    base = float(land.loss(theta))
    quad, inner_quad = 0.0, 0.0
    inner_idx = torch.nonzero(~_last_mask(land)).squeeze(1)
    for _ in range(p.lines):
        for where, store in ((idx, "fibre"), (inner_idx, "inner")):
            delta = torch.zeros(land.dim, dtype=land.dtype)
            delta[where] = torch.randn(len(where), generator=gen, dtype=land.dtype)
            delta /= delta.norm()
            values = land.losses(theta[None] + ts[:, None] * delta[None]).numpy()
            res = _quadratic_residual(values, ts.numpy())
            if store == "fibre":
                quad = max(quad, res)
            else:
                inner_quad = max(inner_quad, res)
    # L5.8: critical points of the fibre from Newton's equation H x = -g (autodiff Hessian and
    # gradient, eigen-decomposed; refined, since L is exactly quadratic there), plus kernel vectors
    evals, V = torch.linalg.eigh(H)
    keep = evals > rank_h.threshold
    Vk, lam, kernel = V[:, keep], evals[keep], V[:, ~keep]

    def newton(x, steps=p.newton_steps):
        for _ in range(steps):
            gx = land.grad(theta.index_put((idx,), x))[idx]
            x = x - Vk @ ((Vk.T @ gx) / lam)
        return x

    crit_loss, crit_grad = 0.0, 0.0
    x0 = newton(theta[idx])
    for j in range(p.critical_points):
        x = x0
        if j and kernel.shape[1]:
            x = newton(x0 + kernel @ torch.randn(kernel.shape[1], generator=gen, dtype=land.dtype), 1)
        q = theta.index_put((idx,), x)
        crit_loss = max(crit_loss, float(land.loss(q)) / (1 + ysq))
        crit_grad = max(crit_grad, float(land.grad(q)[idx].norm()) / (1 + ysq))
    # P5.13 / LSun: flat last-layer directions, Phi_hat^T delta = 0
    U, S, _ = torch.linalg.svd(split.augmented, full_matrices=True)
    r_hat = int((S > p.rank_tau * S[0]).sum()) if len(S) else 0
    null = U[:, r_hat:]
    flat, flat_small = float("nan"), float("nan")
    if null.shape[1]:
        flat = flat_small = 0.0
        depth = len(land.layout.names) // 2
        small_ts = torch.tensor([-1e-3, -1e-6, 1e-6, 1e-3], dtype=land.dtype)
        for _ in range(p.lines):
            rows = torch.randn(b, null.shape[1], generator=gen, dtype=land.dtype) @ null.T
            delta = torch.zeros(land.dim, dtype=land.dtype)
            delta[land.layout.slice(f"W{depth}")] = rows[:, :-1].reshape(-1)
            delta[land.layout.slice(f"b{depth}")] = rows[:, -1]
            delta /= delta.norm()
            values = land.losses(theta[None] + ts[:, None] * delta[None])
            flat = max(flat, float((values - base).abs().max()) / (1 + base))
            near = land.losses(theta[None] + small_ts[:, None] * delta[None])
            flat_small = max(flat_small, float((near - base).max()) / (1 + base))
    b_slice = land.layout.slice(f"b{len(land.layout.names) // 2}")
    pos = [i for i, k in enumerate(idx.tolist()) if b_slice.start <= k < b_slice.stop]
    Hbb = H[pos][:, pos]
    curv = float((Hbb - 2 * n * torch.eye(b, dtype=land.dtype)).abs().max()) / (2 * n)
    return {"loss": base, "r": bounds.r, "r_hat": bounds.r_hat, "rank_phi_full": bounds.r == n,
            "rank_resolved": rank_h.count == bounds.r_hat * b,
            "fibre_rank": rank_h.count, "fibre_nullity": rank_h.nullity,
            "bound_corrected": bounds.r_hat * b, "bound_literal": bounds.r * b,
            "quad_resid": quad, "inner_quad_resid": inner_quad,
            "crit_loss": crit_loss, "crit_grad": crit_grad,
            "flat_dim": int(null.shape[1]) * b, "flat_dev": flat, "flat_small_rise": flat_small,
            "bb_curv_dev": curv, "lambda_max": float(ev[-1]) if len(ev) else float("nan")}


def _line_row(land, theta, p: FibreParams) -> dict:
    """COO-T5.11 at one random point: the straight line to the fibre minimum."""
    built = cooper_line(land, theta, tau=p.rank_tau)
    L0 = float(land.loss(theta))
    t = torch.linspace(0.0, 1.0, p.line_samples, dtype=land.dtype)
    along = land.losses(theta + t[:, None] * (built.end - theta)).numpy()
    cert = certify(built.path, land, tol=p.line_rtol * max(1.0, L0))
    strict = bool(L0 > 0 and (np.diff(along) < 0).all())
    return {"loss": L0, "end_loss": built.end_loss, "line_certificate": cert.holds, "line_kind": cert.kind,
            "strict_samples": strict, "r": built.info["rank"]}


def measure(p: FibreParams) -> Measurement:
    """Fibre measurements at random, repeated-neuron and dead-layer points of every net, then
    COO-T5.11's straight lines at random points of the sigmoid nets.

    Args:
        p: the parameters.

    Returns:
        The measurement: one row per point (``part = "fibre"``) with the hypothesis quantities
        (``depth``, ``m_last``, ``min_hidden``, ``continuous``, ``in_t510_class``, ``r``,
        ``r_hat``) next to what was measured, and one row per T5.11 draw (``part = "line"``).
    """
    gen = check_generator(p.seed)
    X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
    rows = []
    for spec in progress(p.nets, "cooper-fibre"):
        widths = _parse_widths(f"{p.in_dim}/{spec}")
        for act in p.activations:
            Y = torch.randn(p.n, widths[-1], generator=gen, dtype=torch.float64)
            land = _landscape(widths, act, X, Y)
            sigma = get_activation(act)
            base = {"net": spec, "activation": act, "depth": len(widths) - 1, "m_last": widths[-2],
                    "min_hidden": min(widths[1:-1]), "b": widths[-1], "n": p.n,
                    "continuous": bool(sigma.smoothness >= 0), "in_t510_class": T510_CLASS.get(act, False)}
            for kind in KINDS:
                for k in range(p.points):
                    theta = _instance(land, widths, kind, p, gen)
                    rows.append({"part": "fibre", **base, "kind": kind, "point": k,
                                 **_point_row(land, theta, p, gen)})
            if T510_CLASS.get(act, False):
                for k in range(p.line_draws):
                    theta = p.init_std * torch.randn(land.dim, generator=gen, dtype=land.dtype)
                    rows.append({"part": "line", **base, "kind": "random", "point": k,
                                 **_line_row(land, theta, p)})
    table = pd.DataFrame(rows)
    fib = table[table.part == "fibre"]
    return Measurement(table, {"max_quad_resid": float(fib.quad_resid.max()),
                               "min_inner_quad_resid": float(fib.inner_quad_resid.min())})


def judge(m: Measurement, p: FibreParams) -> Verdict:
    """P5.7, L5.8, L5.14 (with its erratum), C5.19, LSun, P5.13 and T5.11, each on the instances
    that meet its hypotheses.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    t = m.table
    setting = t.continuous.astype(bool)
    v = Verdict()
    v.hypothesis("Cooper's setting (§2, §5): square loss, continuous sigma", f"{int(setting.sum())} of {len(t)} rows",
                 "all", bool(setting.any()), note=f"activations {sorted(set(t.activation))}; rows outside "
                                                  "the setting are left out of every check")
    t = t[setting]
    fib = t[t.part == "fibre"]
    _p57(v, fib, p)
    _l58(v, fib, p)
    _l514(v, fib, p)
    _c519(v, fib, p)
    _flat(v, fib, p)
    _t511(v, t[t.part == "line"], p)
    return v


def _p57(v: Verdict, fib: pd.DataFrame, p: FibreParams) -> None:
    cov = fib
    if cov.empty:
        v.not_covered("COO-P5.7: L on a fibre is a quadratic in (M_l, b_l)", f"<= {p.quad_rtol:g}", "no point")
        return
    worst = float(cov.quad_resid.max())
    v.add("COO-P5.7: L on a fibre is a quadratic in (M_l, b_l): residual of a degree-2 fit along "
          "random fibre lines / max|L|", worst, 0.0, p.quad_rtol, worst <= p.quad_rtol,
          f"{p.lines} lines per point, t in [-{p.line_t:g}, {p.line_t:g}], {p.line_samples} values each, "
          f"{len(cov)} points; the same fit along lines through the inner parameters leaves residuals "
          f">= {float(cov.inner_quad_resid.min()):.3g} (the fit can fail)", kind="evidence")


def _l58(v: Verdict, fib: pd.DataFrame, p: FibreParams) -> None:
    full = fib[(fib.m_last >= fib.n) & fib.rank_phi_full.astype(bool)]
    cov = full[full.rank_resolved.astype(bool)]
    v.hypothesis("COO-L5.8: m_{l-1} >= n and rank Phi_{l-1} = n, resolved by the fibre Hessian",
                 f"{len(cov)} of {len(fib)} points", "all", len(cov) > 0,
                 note=f"points with rank Phi < n are left out of the L5.8 check, and the {len(full) - len(cov)} "
                      f"full-rank points whose fibre Hessian 2 I (x) Phi_hat Phi_hat^T squares Phi's condition "
                      f"number below zero_tol = {p.zero_tol:g} (there Newton's equation cannot locate a "
                      "critical point to the check's precision)")
    rest = fib.drop(full.index)
    crit = float(cov.crit_grad.max()) if len(cov) else float("nan")
    if cov.empty:
        v.not_covered("COO-L5.8: critical points of a full-rank fibre have L = 0", 0.0, "no full-rank point")
        return
    worst = float(cov.crit_loss.max())
    v.add("COO-L5.8: critical points of a fibre with rank Phi = n are global minima, max L / (1 + ||y||^2)",
          worst, 0.0, p.loss_rtol, worst <= p.loss_rtol and crit <= math.sqrt(p.loss_rtol),
          f"{p.critical_points} critical points per point from Newton's equation of the autodiff fibre "
          f"Hessian (least-squares step plus random kernel vectors), {len(cov)} points; their fibre "
          f"gradient max {crit:.2g}; at the {len(rest)} points with rank Phi < n the same critical "
          f"points have L / (1 + ||y||^2) up to {float(rest.crit_loss.max()) if len(rest) else float('nan'):.3g}",
          kind="evidence")


def _l514(v: Verdict, fib: pd.DataFrame, p: FibreParams) -> None:
    cov = fib[fib.m_last > fib.n]
    v.hypothesis("COO-L5.14: m_{l-1} > n", f"{len(cov)} of {len(fib)} points", "all", len(cov) > 0)
    if cov.empty:
        v.not_covered("COO-L5.14 (corrected): rank of the fibre quadratic form <= r_hat m_l", "<= r_hat m_l",
                      "no point with m_{l-1} > n")
        v.not_covered("COO-L5.14 erratum: the literal r m_l is exceeded exactly where r_hat = r + 1", "",
                      "no point with m_{l-1} > n", kind="erratum")
        return
    ok = int((cov.fibre_rank <= cov.bound_corrected).sum())
    eq = int((cov.fibre_rank == cov.bound_corrected).sum())
    v.add("COO-L5.14 (corrected): rank of the fibre quadratic form (autodiff Hessian) <= r_hat m_l",
          f"{ok}/{len(cov)}", f"{len(cov)}/{len(cov)}", p.zero_tol, ok == len(cov),
          f"rank from the eigenvalues of the autodiff fibre Hessian (relative threshold {p.zero_tol:g}), "
          f"r_hat from an SVD of [Phi; 1^T]; equality at {eq}/{len(cov)}; r values seen "
          f"{sorted(set(cov.r.astype(int)))}", kind="evidence")
    over = cov.fibre_rank > cov.bound_literal
    off = cov.r_hat > cov.r
    v.add("COO-L5.14 erratum: the source's bound r m_l is exceeded exactly where 1 is not in rowspace(Phi)",
          {"literal exceeded": int(over.sum()), "r_hat = r + 1": int(off.sum()), "points": len(cov)},
          "the two sets coincide; both kinds of point present", None,
          bool((over == off).all()) and bool(over.any()) and bool((~over).any()),
          "erratum confirmed when this passes: the quadratic part of |M xi + b - y|^2 is |M xi + b|^2, "
          "so the bias row counts; by kind: " + ", ".join(
              f"{k}: {int(over[cov.kind == k].sum())}/{int((cov.kind == k).sum())}" for k in KINDS),
          kind="erratum")


def _c519(v: Verdict, fib: pd.DataFrame, p: FibreParams) -> None:
    if fib.empty:
        v.not_covered("COO-C5.19: Hess_{b_l b_l} = 2n I at every point", 0.0, "no point in the setting")
        return
    worst = float(fib.bb_curv_dev.max())
    v.add("COO-C5.19: Hess_{b_l b_l} = 2n I at every point (so no local maximum: the corollary is vacuous)",
          worst, 0.0, p.curv_rtol, bool(len(fib)) and worst <= p.curv_rtol,
          f"max |Hess_bb - 2n I| / 2n over {len(fib)} points (autodiff, square loss; no hypothesis); "
          f"smallest largest fibre eigenvalue {float(fib.lambda_max.min()) if len(fib) else float('nan'):.3g} > 0",
          kind="evidence")
    dead = fib[(fib.kind == "dead") & (fib.r == 0)]
    if len(dead):
        lit = dead.b * (dead.m_last + 1)
        ok = int((dead.fibre_nullity == dead.b * dead.m_last).sum())
        v.add("COO-C5.19 erratum: where Phi = 0 the flat part of the fibre has dimension m_l m_{l-1}, "
              "not the whole fibre m_l (m_{l-1} + 1)", f"{ok}/{len(dead)}", f"{len(dead)}/{len(dead)}", p.zero_tol,
              ok == len(dead) and bool((dead.fibre_nullity < lit).all()),
              "erratum confirmed when this passes: fibre Hessian nullity at dead-layer points with "
              "sigma(0) = 0 (the b_l direction has curvature 2n)", kind="erratum")


def _flat(v: Verdict, fib: pd.DataFrame, p: FibreParams) -> None:
    wide = fib[fib.m_last > fib.n]
    lsun = wide[wide.depth == 2]
    v.hypothesis("COO-LSun: one hidden layer of width m > n, continuous sigma", f"{len(lsun)} of {len(fib)} points",
                 "all", len(lsun) > 0)
    if lsun.empty:
        v.not_covered("COO-LSun: no strict local minimum (a flat direction at every point)", 0.0, "no covered point")
    else:
        rise = float(lsun.flat_small_rise.max())
        v.add("COO-LSun: no point is a strict local minimum: L(p + t delta) - L(p) at |t| <= 1e-3 along "
              "flat last-layer directions, max / (1 + L)", rise, f"<= {p.flat_rtol:g}", p.flat_rtol,
              rise <= p.flat_rtol, f"{len(lsun)} points of one-hidden-layer nets, activations "
              f"{sorted(set(lsun.activation))} (ReLU included: LSun asks only continuity)", kind="evidence")
    v.hypothesis("COO-P5.13: m_{l-1} > n, square loss, continuous sigma", f"{len(wide)} of {len(fib)} points",
                 "all", len(wide) > 0)
    if wide.empty:
        v.not_covered("COO-P5.13: no isolated local minimum or maximum", 0.0, "no covered point")
        return
    flat = float(wide.flat_dev.max())
    v.add(f"COO-P5.13: L(p + t delta) = L(p) for t in [-{p.line_t:g}, {p.line_t:g}] along delta with "
          "Phi_hat^T delta = 0: no point is isolated in its level set (max relative change)", flat, 0.0,
          p.flat_rtol, flat <= p.flat_rtol and bool((wide.flat_dim > 0).all()),
          f"{p.lines} directions per point, {len(wide)} points (random, repeated, dead); flat dimensions "
          f"{int(wide.flat_dim.min())}..{int(wide.flat_dim.max())}; the sequence p + delta / k of COO-L5.12 "
          "lies on these lines", kind="evidence")


def _t511(v: Verdict, line: pd.DataFrame, p: FibreParams) -> None:
    cov = line[line.in_t510_class.astype(bool) & (line.min_hidden > line.n)]
    v.hypothesis("COO-T5.11: sigma of COO-T5.10's class, every hidden layer wider than n",
                 f"{len(cov)} of {len(line)} draws", "all", len(cov) > 0)
    if cov.empty:
        v.not_covered("COO-T5.11: a strictly decreasing line from random p to a global minimum", "100% of draws",
                      "no draw meets T5.11's hypotheses")
        return
    good = cov.line_certificate.astype(bool) & cov.strict_samples.astype(bool) & (
        cov.end_loss <= p.line_rtol * cov.loss)
    proportion_check(v, "COO-T5.11: the straight line from random p to (p_I, least-squares last layer) "
                     "decreases strictly to L = 0", int(good.sum()), len(cov), at_least=1.0, min_draws=p.min_draws,
                     note=f"certificates of kinds {sorted(set(cov.line_kind))}, strict decrease at "
                          f"{p.line_samples} values of t, end loss <= {p.line_rtol:g} L(p); nets "
                          f"{sorted(set(cov.net))}")


def draw(m: Measurement, p: FibreParams) -> dict:
    """The fibre Hessian's rank against r_hat m_l and r m_l (L5.14).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        ``{"rank": figure}``.
    """
    t = m.table[m.table.part == "fibre"]
    fig, (ax,) = figure(width=7)
    for kind, marker in zip(KINDS, "osd", strict=True):
        s = t[t.kind == kind]
        ax.scatter(s.bound_corrected, s.fibre_rank, marker=marker, label=f"{kind}: vs r_hat m_l")
        ax.scatter(s.bound_literal, s.fibre_rank, marker=marker, facecolors="none", edgecolors="gray",
                   label=f"{kind}: vs r m_l (source)")
    lim = float(max(t.fibre_rank.max(), t.bound_corrected.max())) + 2
    ax.plot([0, lim], [0, lim], "k--", lw=1)
    ax.set(xlabel="bound", ylabel="rank of the fibre Hessian", title="COO-L5.14: rank of the fibre quadratic form")
    ax.legend(fontsize=7)
    return {"rank": fig}


run_fibre = experiment(
    "cooper-fibre", source=f"{SOURCE}, §5 (Prop 5.7, Lemmas 5.8 and 5.14, Thm 5.11, Prop 5.13, Cor 5.19)",
    claim="COO-P5.7/L5.8/L5.14/C5.19/P5.13/LSun/T5.11: L is quadratic on fibres; full-rank fibres have "
          "only global critical points; the fibre form has rank <= r_hat m_l (not r m_l); no local "
          "maxima; wide nets have no strict or isolated minima; random p descend strictly on a line",
    params=FibreParams, judge=judge, draw=draw)(measure)
