"""Document 003 (Safran & Shamir): Theorem 1's monotone path by rescaling the last layer.

``safran-shamir-monotone-path``: from a Gaussian initialisation W0 to a gradient-descent
solution W1, the straight path is rescaled by algorithm SS-A1 into a path whose loss
strictly decreases (SS-T1). The polygon through the rescaled grid is certified exactly
(ReLU net, squared loss) and re-evaluated, by a separate NumPy forward pass, at points
between the grid points that the construction never used. SS-P1's probability
P[L(P(W0)) > L(0)] >= (1 - 2^-n)/2 is estimated by Monte Carlo and judged with exact
intervals.

The grid losses equal the targets T(lambda) by bisection and the end loss equals L(P(W1)) by
construction: both are consistency. SS-T1 applies only where its hypotheses hold on the
generated instance (condition 2 ``L(P(W0)) > L(0)``, ``L(P(W1)) < L(P(W0))`` and the bracket
of condition 1); the other instances are *not covered* (``--set hidden=1 --seed 12``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...critical import gradient_descent
from ...data import digits
from ...literature.safran2016 import rescaled_path
from ...nets import mlp
from ...paths import certify
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_003 = "003 Safran & Shamir, 'On the quality of the initial basin'"


@dataclass(frozen=True)
class SSPathParams(Params):
    """Parameters of ``safran-shamir-monotone-path``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: digits used (one-hot targets, squared loss).
        hidden: hidden widths of the bias-free ReLU nets (one net per entry of ``depths``).
        depths: numbers of hidden layers (1: two-layer net, 2: three-layer net).
        gd_steps: steps of the gradient descent from W0 to W1.
        lr: step size of that gradient descent.
        grid: K + 1 grid points on the straight path W0 -> W1 (first try).
        max_grid: the grid is refined 4x while the polygon through the rescaled points is
            not certified, up to this many intervals (a coarse polygon can bulge above
            the strictly decreasing targets between grid points).
        end_tol: |L(end) - L(W1)| tolerance (CLAIMS.md: 1e-10).
        cert_rtol: relative tolerance of the exact descent certificate of the polygon.
        mc_draws: Monte Carlo draws per width for SS-P1.
        mc_widths: last-hidden widths n_{h-1} of the SS-P1 estimate.
        mc_last_layer: ``gaussian`` (Assumption 1: sign-symmetric last layer) or
            ``positive`` (|N(0, 1)| entries: outside SS-P1's hypothesis, reported not covered).
        check_points: points per polygon segment, strictly between the grid points, at
            which the loss is re-evaluated independently.
        confidence: coverage of the exact (Clopper-Pearson) intervals of SS-P1.
        min_draws: fewer Monte Carlo draws report "insufficient draws".
    """

    n_samples: int = 200
    hidden: int = 32
    depths: tuple[int, ...] = (1, 2)
    gd_steps: int = 500
    lr: float = 0.1
    grid: int = 400
    max_grid: int = 6400
    end_tol: float = 1e-10
    cert_rtol: float = 1e-10
    mc_draws: int = 10_000
    mc_widths: tuple[int, ...] = (1, 2, 5, 20)
    mc_last_layer: str = "gaussian"
    check_points: int = 5
    confidence: float = 0.99
    min_draws: int = 20
    QUICK = {"n_samples": 40, "hidden": 8, "depths": (1,), "gd_steps": 150, "grid": 40, "max_grid": 640,
             "mc_draws": 2000}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": ">= 1", "hidden": ">= 1", "depths": "nonempty, >= 1", "gd_steps": ">= 1", "lr": "> 0",
        "grid": ">= 2", "max_grid": ">= 2", "end_tol": ">= 0", "cert_rtol": ">= 0", "mc_draws": ">= 1",
        "mc_widths": "nonempty, >= 1", "mc_last_layer": "one of gaussian|positive", "check_points": ">= 1",
        "confidence": "> 0, < 1", "min_draws": ">= 1"}


def _ss_p1(X: torch.Tensor, Y: torch.Tensor, width: int, draws: int, gen: torch.Generator,
           last_layer: str = "gaussian") -> float:
    """Fraction of Gaussian inits (per-neuron spherically symmetric) with L(P(W0)) > L(0);
    ``last_layer="positive"`` draws |N(0, 1)| output weights (no sign symmetry)."""
    N, d = X.shape
    W = torch.randn(draws, width, d, generator=gen, dtype=X.dtype)
    V = torch.randn(draws, Y.shape[1], width, generator=gen, dtype=X.dtype)
    if last_layer == "positive":
        V = V.abs()
    H = torch.relu(torch.einsum("nd,bwd->bnw", X, W))
    P = torch.einsum("bnw,bmw->bnm", H, V)
    above = ((P - Y) ** 2).sum((1, 2)) > (Y ** 2).sum()
    return float(above.double().mean())


def _numpy_losses(land: Landscape, points: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared loss (per-sample sum over outputs, mean over samples) of the bias-free ReLU MLP
    at each parameter vector in ``points``, by a NumPy forward pass (not the Landscape's)."""
    out = np.empty(len(points))
    for i, theta in enumerate(points):
        blocks = [b.numpy() for b in land.layout.unflatten(torch.as_tensor(theta)).values()]
        H = X
        for W in blocks[:-1]:
            H = np.maximum(H @ W.T, 0.0)
        out[i] = float((((H @ blocks[-1].T) - Y) ** 2).sum(1).mean())
    return out


def _between_grid_points(Q: np.ndarray, per_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """Points of the polygon through ``Q`` strictly between its vertices (``per_segment`` per
    segment, at fractions (j + 1/2) / per_segment), in path order, with their segment index."""
    s = (np.arange(per_segment) + 0.5) / per_segment
    pts = Q[:-1, None, :] + s[None, :, None] * (Q[1:] - Q[:-1])[:, None, :]
    return pts.reshape(-1, Q.shape[1]), np.repeat(np.arange(len(Q) - 1), per_segment)


def _independent_descent(land: Landscape, Q: np.ndarray, X: np.ndarray, Y: np.ndarray,
                         per_segment: int) -> tuple[float, float]:
    """Re-evaluate the polygon through ``Q``: the largest consecutive loss step on the sequence
    vertex, interior points, vertex, ... (every loss from the NumPy forward pass), and the
    end vertex's loss."""
    inner, _ = _between_grid_points(Q, per_segment)
    vertices = _numpy_losses(land, Q, X, Y)
    between = _numpy_losses(land, inner, X, Y).reshape(len(Q) - 1, per_segment)
    seq = np.concatenate([np.concatenate([[vertices[k]], between[k]]) for k in range(len(Q) - 1)]
                         + [[vertices[-1]]])
    return float(np.diff(seq).max()), float(vertices[-1])


def measure(p: SSPathParams) -> Measurement:
    """Per depth: GD from W0 to W1, the rescaled path and its certificate; SS-P1 Monte Carlo per width.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    gen = check_generator(p.seed)
    data = digits(n=p.n_samples, seed=p.seed)
    X = data.X
    Y = torch.nn.functional.one_hot(data.y, 10).to(torch.float64)
    rows, curves = [], []
    for depth in progress(p.depths, "safran-shamir-monotone-path"):
        net = mlp([64, *([p.hidden] * depth), 10], "relu", bias=False, seed=p.seed + depth)
        land = Landscape(net, (X, Y), loss="mse")
        theta0 = torch.cat([torch.randn(b.numel(), generator=gen, dtype=torch.float64) / math.sqrt(b.shape[-1])
                            for b in land.layout.unflatten(land.theta0).values()])
        W1 = gradient_descent(land, theta0, lr=p.lr, max_iter=p.gd_steps).theta
        L0, L1 = float(land.loss(theta0)), float(land.loss(W1))
        grid = p.grid
        while True:  # refine the grid until the polygon through it is certified (or max_grid)
            lam = torch.linspace(0, 1, grid + 1, dtype=torch.float64)
            pts = theta0 + lam[:, None] * (W1 - theta0)
            res = rescaled_path(land, pts, last=f"W{depth + 1}")
            if res.path is None:
                break
            cert = certify(res.path, land, tol=p.cert_rtol * max(1.0, L0))
            if cert.holds or grid * 4 > p.max_grid:
                break
            grid *= 4
        row = {"depth": depth, "L0": L0, "L1": L1, "L_zero": float((Y ** 2).sum(1).mean()),
               "condition2": res.condition2, "condition1": res.condition1, "grid": grid}
        if res.path is not None:
            steps = np.diff(res.losses)
            Q = pts.numpy().copy()
            Q[:, land.layout.slice(f"W{depth + 1}")] *= res.c[:, None]
            fine_step, end_numpy = _independent_descent(land, Q, X.numpy(), Y.numpy(), p.check_points)
            row.update({"max_step": float(steps.max()), "end_loss": float(res.losses[-1]),
                        "end_gap": abs(float(res.losses[-1]) - L1), "certificate": cert.holds,
                        "kind": cert.kind, "pieces": len(cert.pieces), "c_min": float(res.c.min()),
                        "c_max": float(res.c.max()), "fine_max_step": fine_step,
                        "fine_points": (len(Q) - 1) * p.check_points, "end_loss_numpy": end_numpy})
            curves.append((depth, res.lam, res.losses, land.losses(pts).numpy()))
        rows.append(row)
    df = pd.DataFrame(rows)
    mc_rows = []
    for w in p.mc_widths:
        est = _ss_p1(X, Y, w, p.mc_draws, gen, p.mc_last_layer)
        bound = 0.5 * (1 - 2.0 ** -w)
        se = math.sqrt(max(est * (1 - est), 1e-12) / p.mc_draws)
        mc_rows.append({"width": w, "estimate": est, "bound": bound, "se": se, "draws": p.mc_draws,
                        "symmetric_last_layer": p.mc_last_layer == "gaussian"})
    table = pd.concat([df.assign(part="path"), pd.DataFrame(mc_rows).assign(part="ss-p1")], ignore_index=True)
    return Measurement(table, {"runs": len(df)}, extras={"curves": curves})


def _covered_paths(verdict: Verdict, df: pd.DataFrame) -> pd.DataFrame:
    """Record SS-T1's hypotheses per path instance (from the table's losses) and return the
    instances that meet all of them."""
    cond2 = df["L0"].to_numpy() > df["L_zero"].to_numpy()
    decrease = df["L1"].to_numpy() < df["L0"].to_numpy()
    cond1 = df["condition1"].astype(bool).to_numpy() & cond2
    n = len(df)
    verdict.hypothesis("condition 2: L(P(W0)) > L(0)", f"{int(cond2.sum())} of {n} instances", "every instance",
                       bool(cond2.any()), note="from the table's L0 and L(0); where it fails SS-T1 does not "
                                               "apply (NG-1.2) and the instance is left out")
    verdict.hypothesis("L(P(W1)) < L(P(W0))", f"{int(decrease.sum())} of {n} instances", "every instance",
                       bool(decrease.any()))
    verdict.hypothesis("condition 1: a root of L(c P) = T(lambda) bracketed at every grid point",
                       f"{int(cond1.sum())} of {n} instances", "every instance", bool(cond1.any()),
                       note="bisection bracket found (checked only where condition 2 held)")
    return df[cond2 & decrease & cond1]


def judge(m: Measurement, p: SSPathParams) -> Verdict:
    """SS-T1's hypotheses per instance; on the covered ones, the independent re-evaluation and
    the exact certificate of the path (evidence) and the two identities of the construction
    (consistency); SS-P1 per width with exact intervals.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table = m.table
    verdict = Verdict()
    df = table[table["part"] == "path"]
    ok = _covered_paths(verdict, df)
    descent = "loss strictly decreasing along the rescaled path, re-evaluated between grid points"
    certificate = "polygon through the rescaled grid: exact descent certificate"
    if ok.empty:
        for name in (descent, certificate):
            verdict.not_covered(name, "< 0" if name == descent else "every instance",
                                "no path instance meets SS-T1's hypotheses")
    else:
        fine = ok["fine_max_step"].astype(float)
        verdict.add(descent, float(fine.max()), "< 0", 0.0, bool((fine < 0).all()),
                    note=f"{int(ok['fine_points'].sum())} points strictly between the grid points, never used by "
                         f"the construction, each loss from a separate NumPy forward pass; largest step over the "
                         f"sequence grid point, interior points, grid point, ...", kind="evidence")
        n_cert = int((ok["certificate"] == True).sum())  # noqa: E712
        verdict.add(certificate, n_cert, len(ok), p.cert_rtol, n_cert == len(ok),
                    note="exact between grid points, ReLU activation patterns enumerated", kind="evidence")
        verdict.add("rescaled grid strictly decreasing (largest step)", float(ok["max_step"].max()), "< 0",
                    0.0, bool((ok["max_step"] < 0).all()), kind="consistency",
                    note="identity of the construction: bisection onto the strictly decreasing targets T")
        verdict.add("end loss = L(P(W1))", float(ok["end_gap"].max()), 0.0, p.end_tol,
                    bool((ok["end_gap"] <= p.end_tol).all()), kind="consistency",
                    note="by construction: T(1) = L(P(W1))")
    mc = table[table["part"] == "ss-p1"]
    symmetric = mc["symmetric_last_layer"].astype(bool)
    verdict.hypothesis("SS-P1: Assumption 1 (sign-symmetric last layer)", f"{int(symmetric.sum())} of {len(mc)} widths",
                       "every width", bool(symmetric.any()))
    for r in mc.itertuples():
        name = f"SS-P1 Monte Carlo, n_(h-1) = {int(r.width)}"
        bound = float(r.bound)
        if not bool(r.symmetric_last_layer):
            verdict.not_covered(name, f">= {bound:.4f}", "last layer drawn positive: outside Assumption 1")
            continue
        draws = int(r.draws)
        proportion_check(verdict, name, int(round(float(r.estimate) * draws)), draws, at_least=bound,
                         confidence=p.confidence, min_draws=p.min_draws)
    return verdict


def draw(m: Measurement, p: SSPathParams) -> dict:
    """The rescaled and the straight path's loss against lambda, per depth.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``paths``.
    """
    fig, (ax,) = figure()
    for depth, lam, losses, straight in m.extras["curves"]:
        ax.plot(lam, losses, label=f"{depth} hidden: rescaled")
        ax.plot(lam, straight, "--", lw=0.8, label=f"{depth} hidden: straight")
    ax.set(xlabel="lambda", ylabel="loss", title="SS-A1: last layer rescaled into a strictly decreasing path")
    ax.legend(fontsize=7)
    return {"paths": fig}


safran_shamir_monotone_path = experiment(
    "safran-shamir-monotone-path", source=SOURCE_003 + ", Theorem 1 and Proposition 1",
    claim="SS-T1: rescaling the last layer along a path from W0 (L(P(W0)) > L(0)) to W1 gives a "
          "strictly decreasing path to L(P(W1)); SS-P1: P[L(P(W0)) > L(0)] >= (1 - 2^-n)/2",
    params=SSPathParams, judge=judge, draw=draw)(measure)
