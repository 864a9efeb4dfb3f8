"""Document 004 (Nguyen thesis), chapter 2: the conjecture after Theorem 2.4.11, probed.

``nguyen-duplicated``: the thesis conjectures that critical points outside S_k are not
sub-optimal local minima (NG-Conjecture). Rank-deficient critical points of a wide net are built
by neuron duplication: a narrow sigmoid net [d, h, 1] (h < N) is trained by L-BFGS
to a critical point with positive loss, and every hidden neuron j is copied c = ceil(N / h)
times with its output weight v_j split evenly. The wide net [d, c h, 1] has n_1 >= N (so zero
loss is attainable: checked by a least-squares fit on random wide features), the point is
critical (the copies add up to the narrow net) and lies outside S_1 (rank F_1 <= h < N).

Fukumizu & Amari (2000) predict its curvature along the split direction: moving copies a and b of
neuron j by +t u and -t u leaves the output unchanged to first order, and the loss curves as
(v_j / c) u^T M_j u with M_j = sum_i r_i sigma''(w_j . x_i + b_j) x~_i x~_i^T (r the residuals,
x~ = (x, 1)). When some v_j M_j has a negative eigenvalue the point is a saddle, certified by the
Rayleigh quotient of the autograd Hessian along that explicit direction (evidence: the Hessian and
the closed form are separate code). When every v_j M_j is positive definite and the narrow point is
a strict minimum, the same theory says the point is a non-strict sub-optimal local minimum, which
would contradict the conjecture; such instances are counted and their smallest Hessian eigenvalue
and sampled perturbations reported (sampled, never a proof).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...expressivity import matrix_feature_rank
from ...nets import mlp
from ...record import Measurement
from ...train import fit
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2


# ------------------------------------------------------------------- nguyen-duplicated
@dataclass(frozen=True)
class DuplicatedParams(Params):
    """Parameters of ``nguyen-duplicated``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: N random Gaussian inputs with random targets (m = 1).
        n_in: input dimension d.
        narrow: hidden width h of the narrow net (h < N: it cannot fit, so its critical points
            have positive loss).
        n_data: random data sets.
        n_starts: random starts of the narrow net per data set.
        train_steps: L-BFGS function evaluations of the narrow training.
        grad_tol: a narrow end point counts as critical when ||grad|| <= grad_tol. These sigmoid
            critical points are nearly degenerate (narrow Hessian lambda_min ~ 1e-10), so L-BFGS
            reaches 1e-8 only from some starts: the points are approximately critical, and the
            saddle check below speaks of the critical point they approximate.
        saddle_tol: a point is a saddle when the smallest eigenvalue of the wide Hessian is
            below -saddle_tol * lambda_max(H) (far above the closed form's agreement).
        loss_floor: a critical point is sub-optimal when its loss exceeds this (the wide net
            reaches 0).
        curvature_rtol: the split-direction Rayleigh quotient must match the closed form
            (v_j / c) lambda_min(M_j) within this times lambda_max(H) (float64 rounding).
        n_perturb: sampled perturbations per radius of the points that meet the local-minimum
            condition of Fukumizu–Amari (reported only).
        radii: the radii of those perturbations.
    """

    n_samples: int = 12
    n_in: int = 2
    narrow: int = 2
    n_data: int = 8
    n_starts: int = 3
    train_steps: int = 1000
    grad_tol: float = 1e-5
    saddle_tol: float = 1e-8
    loss_floor: float = 1e-6
    curvature_rtol: float = 1e-8
    n_perturb: int = 2000
    radii: tuple[float, ...] = (1e-3, 1e-2)
    QUICK = {"n_data": 2, "n_starts": 3, "train_steps": 400, "n_perturb": 200}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": ">= 2", "n_in": ">= 1", "narrow": ">= 1", "n_data": ">= 1", "n_starts": ">= 1",
        "train_steps": ">= 1", "grad_tol": "> 0", "saddle_tol": "> 0", "loss_floor": ">= 0", "curvature_rtol": "> 0",
        "n_perturb": ">= 0", "radii": "nonempty, > 0"}


def _fa_matrices(X, Y, W1, b1, W2, outputs) -> torch.Tensor:
    """v_j M_j of every narrow neuron (h, d + 1, d + 1), by the closed form of sigma''."""
    pre = X @ W1.T + b1
    s = torch.sigmoid(pre)
    s2 = s * (1 - s) * (1 - 2 * s)  # sigma'' of the logistic function
    r = (outputs - Y)[:, 0]
    Xt = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)
    return torch.stack([W2[0, j] * (Xt.T * (r * s2[:, j])) @ Xt for j in range(W1.shape[0])])


def measure(p: DuplicatedParams) -> Measurement:
    """Narrow critical points, their duplicates in the wide net, the Hessians and the closed-form curvature.

    Args:
        p: the parameters.

    Returns:
        One row per narrow critical point with positive loss: its loss and gradient, the
        narrow Hessian's smallest eigenvalue, the wide point's gradient, Press rank F_1, the
        wide Hessian's extreme eigenvalues, the closed-form split curvature
        min_j lambda_min(v_j M_j) / c, the autograd Hessian's Rayleigh quotient along that split
        direction, whether every v_j M_j is positive definite, the residual of a least-squares
        fit on random wide features (zero loss attainable) and the sampled perturbations'
        smallest loss change.
    """
    gen = check_generator(p.seed)
    N, d, h = p.n_samples, p.n_in, p.narrow
    c = math.ceil(N / h)
    rows = []
    for data in progress(range(p.n_data), "data sets"):
        X = torch.randn(N, d, generator=gen, dtype=torch.float64)
        Y = torch.randn(N, 1, generator=gen, dtype=torch.float64)
        wide = Landscape(mlp([d, c * h, 1], "sigmoid", seed=p.seed + data), (X, Y), loss="half_squared",
                         reduction="sum")
        F_rand = torch.cat([wide.features(wide.theta0, 1), torch.ones(N, 1, dtype=torch.float64)], 1)
        fit_resid = float((F_rand @ torch.linalg.lstsq(F_rand, Y, driver="gelsd").solution - Y).abs().max())
        for start in range(p.n_starts):
            land = Landscape(mlp([d, h, 1], "sigmoid", seed=p.seed * 1000 + 10 * data + start), (X, Y),
                             loss="half_squared", reduction="sum")
            th = fit(land, method="lbfgs", lr=1.0, steps=p.train_steps, grad_tol=p.grad_tol / 1000,
                     history_size=50, record_every=p.train_steps, progress=False).theta
            g = float(land.grad(th).norm())
            loss = float(land.loss(th))
            P = land.layout.unflatten(th)
            W1, b1, W2, b2 = P["W1"], P["b1"], P["W2"], P["b2"]
            thw = wide.layout.flatten({"W1": W1.repeat_interleave(c, 0), "b1": b1.repeat_interleave(c),
                                       "W2": W2.repeat_interleave(c, 1) / c, "b2": b2})
            H = wide.hessian(thw)
            ev = torch.linalg.eigvalsh(H)
            E = _fa_matrices(X, Y, W1, b1, W2, land.outputs(th))
            fa_ev = torch.linalg.eigvalsh(E)  # (h, d + 1)
            j = int(fa_ev[:, 0].argmin())
            u = torch.linalg.eigh(E[j]).eigenvectors[:, 0]
            # the split direction: copies 0 and 1 of neuron j move by +u and -u (weights and bias)
            delta = {k: torch.zeros_like(v) for k, v in wide.layout.unflatten(thw).items()}
            delta["W1"][j * c] = u[:d]
            delta["b1"][j * c] = u[d]
            delta["W1"][j * c + 1] = -u[:d]
            delta["b1"][j * c + 1] = -u[d]
            dv = wide.layout.flatten(delta) / math.sqrt(2.0)
            rayleigh = float(dv @ H @ dv)
            narrow_ev = torch.linalg.eigvalsh(land.hessian(th))
            row = {"data": data, "start": start, "N": N, "n_wide": c * h, "copies": c, "loss": loss,
                   "grad_narrow": g, "grad_wide": float(wide.grad(thw).norm()),
                   "rank_F1": matrix_feature_rank(wide.features(thw, 1)).rank,
                   "narrow_lambda_min": float(narrow_ev[0]), "narrow_lambda_max": float(narrow_ev[-1]),
                   "lambda_min": float(ev[0]), "lambda_max": float(ev[-1]),
                   "fa_curvature": float(fa_ev[:, 0].min()) / c, "rayleigh": rayleigh,
                   "fa_definite": bool((fa_ev[:, 0] > 0).all()), "wide_fit_residual": fit_resid,
                   "perturb_min_change": math.nan}
            if row["fa_definite"] and p.n_perturb:
                L0 = float(wide.loss(thw))
                dirs = torch.randn(p.n_perturb, thw.numel(), generator=gen, dtype=torch.float64)
                dirs /= dirs.norm(dim=1, keepdim=True)
                changes = [float((wide.losses(thw + r * dirs, progress=False) - L0).min()) for r in p.radii]
                row["perturb_min_change"] = min(changes)
            rows.append(row)
    return Measurement(pd.DataFrame(rows), {"copies": c, "n_wide": c * h})


def judge(m: Measurement, p: DuplicatedParams) -> Verdict:
    """The Fukumizu–Amari split curvature against the autograd Hessian; saddles certified; candidates counted.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: hypotheses (critical, sub-optimal, outside S_1, wide net n_1 >= N with zero
        loss attainable) per point; the Rayleigh quotient along the split direction equals the
        closed form (evidence); every covered point with a negative split curvature is a saddle
        (evidence); the points meeting the local-minimum condition are reported (consistency
        note, never counted for the conjecture).
    """
    verdict = Verdict()
    t = m.table
    critical = (t.grad_narrow <= p.grad_tol) & (t.grad_wide <= p.grad_tol)
    subopt = t.loss > p.loss_floor
    outside = t.rank_F1 < t.N
    wide = (t.n_wide >= t.N) & (t.wide_fit_residual <= 1e-8)
    verdict.hypothesis("the duplicated point is critical (narrow and wide gradients <= grad_tol)",
                       f"{int(critical.sum())} of {len(t)} points", "<= grad_tol", bool(critical.any()))
    verdict.hypothesis("sub-optimal: loss > loss_floor while the wide net fits exactly (n_1 >= N, least squares)",
                       f"{int((subopt & wide).sum())} of {len(t)}", "loss > 0 = attainable",
                       bool((subopt & wide).any()))
    verdict.hypothesis("outside S_1: Press rank F_1 < N (duplicated neurons)", f"{int(outside.sum())} of {len(t)}",
                       "rank F_1 < N", bool(outside.any()))
    cov = t[critical & subopt & outside & wide]
    names = ("split curvature: Hessian Rayleigh quotient along the split direction = (v_j/c) lambda_min(M_j)",
             "NG-Conjecture probe: every covered duplicated critical point is a saddle "
             "(lambda_min(H) < -saddle_tol lambda_max(H))")
    if cov.empty:
        for name in names:
            verdict.not_covered(name, "FA", "no critical, sub-optimal duplicated point outside S_1")
        return verdict
    dev = float(((cov.rayleigh - cov.fa_curvature).abs() / cov.lambda_max).max())
    verdict.add(names[0], dev, 0.0, p.curvature_rtol, dev <= p.curvature_rtol,
                note=f"{len(cov)} points; largest deviation relative to lambda_max(H); the Hessian by autograd, "
                     "the curvature from the closed form of sigma''", kind="evidence")
    cand = cov[cov.fa_definite & (cov.narrow_lambda_min > 0)]
    cand_text = ((f"; {len(cand)} of {len(cov)} points meet Fukumizu–Amari's local-minimum condition (every "
                  f"v_j M_j and the narrow Hessian positive definite: candidates against the conjecture), smallest "
                  f"wide lambda_min {float(cand.lambda_min.min()):.3g}, smallest sampled loss change "
                  f"{float(cand.perturb_min_change.min()):.3g} (sampled, not a proof)") if len(cand) else
                 f"; none of {len(cov)} points meets Fukumizu–Amari's local-minimum condition")
    saddles = cov.lambda_min < -p.saddle_tol * cov.lambda_max
    decided = cov[saddles | (cov.fa_definite & (cov.narrow_lambda_min > 0))]
    flat = len(cov) - len(decided)
    floor = -p.saddle_tol * decided.lambda_max
    split = (decided.rayleigh < floor) & (decided.lambda_min < floor)
    flat_text = (f"; {flat} covered points left out: curvature within saddle_tol of 0 and not meeting the "
                 "local-minimum condition (second order undecided)") if flat else ""
    if decided.empty:
        verdict.not_covered(names[1], "all", "no covered point is decided at second order" + flat_text + cand_text)
        return verdict
    ok = decided.lambda_min < floor
    verdict.add(names[1], f"{int(ok.sum())}/{len(decided)}", "all", None, bool(ok.all()),
                note=f"lambda_min(H) / lambda_max(H) from {float((decided.lambda_min / decided.lambda_max).min()):.3g}"
                     f" to {float((decided.lambda_min / decided.lambda_max).max()):.3g} (autograd Hessian); "
                     f"{int(split.sum())} of them along the split direction of Fukumizu–Amari: a direction of "
                     "negative curvature at a critical point, so not a local minimum" + flat_text + cand_text,
                kind="evidence")
    return verdict


def draw(m: Measurement, p: DuplicatedParams) -> dict:
    """Closed-form split curvature against the Hessian's Rayleigh quotient.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"split_curvature": figure}``.
    """
    t = m.table
    fig, (ax,) = figure()
    ax.plot(t.fa_curvature, t.rayleigh, "o")
    lim = [float(min(t.fa_curvature.min(), t.rayleigh.min())), float(max(t.fa_curvature.max(), t.rayleigh.max()))]
    ax.plot(lim, lim, "k-", lw=0.8)
    ax.axhline(0, color="k", lw=0.4)
    ax.axvline(0, color="k", lw=0.4)
    ax.set(xlabel="(v_j / c) lambda_min(M_j) (closed form)", ylabel="d^T H d along the split (autograd)",
           title=f"duplicated critical points, n_1 = {m.summary['n_wide']}")
    return {"split_curvature": fig}


nguyen_duplicated = experiment(
    "nguyen-duplicated", source=SOURCE_004_CH2 + ", the conjecture after Thm 2.4.11",
    claim="NG-Conjecture: critical points outside S_k built by neuron duplication in a wide net are not "
          "sub-optimal local minima where the split curvature of Fukumizu and Amari is negative (saddles)",
    params=DuplicatedParams, judge=judge, draw=draw)(measure)
