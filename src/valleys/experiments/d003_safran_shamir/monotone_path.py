"""Document 003 (Safran & Shamir): Theorem 1's monotone path by rescaling the last layer.

``safran-shamir-monotone-path``: from a Gaussian initialisation W0 to a gradient-descent
solution W1, the straight path is rescaled by algorithm SS-A1 into a path whose loss
strictly decreases (SS-T1). The polygon through the rescaled grid is certified exactly
(ReLU net, squared loss). SS-P1's probability P[L(P(W0)) > L(0)] >= (1 - 2^-n)/2 is
estimated by Monte Carlo.
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
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_003 = "003 Safran & Shamir, 'On the quality of the initial basin'"


@dataclass(frozen=True)
class SSPathParams(Params):
    """Parameters of ``safran-shamir-monotone-path``.

    Attributes:
        n_samples: digits used (one-hot targets, squared loss).
        hidden: hidden widths of the bias-free ReLU nets (one net per entry of ``depths``).
        depths: numbers of hidden layers (1: two-layer net, 2: three-layer net).
        gd_steps, lr: gradient descent from W0 to W1.
        grid: K + 1 grid points on the straight path W0 -> W1 (first try).
        max_grid: the grid is refined 4x while the polygon through the rescaled points is
            not certified, up to this many intervals (a coarse polygon can bulge above
            the strictly decreasing targets between grid points).
        end_tol: |L(end) - L(W1)| tolerance (CLAIMS.md: 1e-10).
        cert_rtol: relative tolerance of the exact descent certificate of the polygon.
        mc_draws: Monte Carlo draws per width for SS-P1.
        mc_widths: last-hidden widths n_{h-1} of the SS-P1 estimate.
        z: standard errors allowed below the SS-P1 bound.
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
    z: float = 3.0
    QUICK = {"n_samples": 40, "hidden": 8, "depths": (1,), "gd_steps": 150, "grid": 40, "max_grid": 640,
             "mc_draws": 2000}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": ">= 1", "hidden": ">= 1", "depths": "nonempty, >= 1", "gd_steps": ">= 1", "lr": "> 0",
        "grid": ">= 2", "max_grid": ">= 2", "end_tol": ">= 0", "cert_rtol": ">= 0", "mc_draws": ">= 1",
        "mc_widths": "nonempty, >= 1", "z": ">= 0"}


def _ss_p1(X: torch.Tensor, Y: torch.Tensor, width: int, draws: int, gen: torch.Generator) -> float:
    """Fraction of Gaussian inits (per-neuron spherically symmetric) with L(P(W0)) > L(0)."""
    N, d = X.shape
    W = torch.randn(draws, width, d, generator=gen, dtype=X.dtype)
    V = torch.randn(draws, Y.shape[1], width, generator=gen, dtype=X.dtype)
    H = torch.relu(torch.einsum("nd,bwd->bnw", X, W))
    P = torch.einsum("bnw,bmw->bnm", H, V)
    above = ((P - Y) ** 2).sum((1, 2)) > (Y ** 2).sum()
    return float(above.double().mean())


def measure(p: SSPathParams) -> Measurement:
    """Per depth: GD from W0 to W1, the rescaled path and its certificate; SS-P1 Monte Carlo per width."""
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
            row.update({"max_step": float(steps.max()), "end_loss": float(res.losses[-1]),
                        "end_gap": abs(float(res.losses[-1]) - L1), "certificate": cert.holds,
                        "kind": cert.kind, "pieces": len(cert.pieces), "c_min": float(res.c.min()),
                        "c_max": float(res.c.max())})
            curves.append((depth, res.lam, res.losses, land.losses(pts).numpy()))
        rows.append(row)
    df = pd.DataFrame(rows)
    mc_rows = []
    for w in p.mc_widths:
        est = _ss_p1(X, Y, w, p.mc_draws, gen)
        bound = 0.5 * (1 - 2.0 ** -w)
        se = math.sqrt(max(est * (1 - est), 1e-12) / p.mc_draws)
        mc_rows.append({"width": w, "estimate": est, "bound": bound, "se": se})
    table = pd.concat([df.assign(part="path"), pd.DataFrame(mc_rows).assign(part="ss-p1")], ignore_index=True)
    return Measurement(table, {"runs": len(df)}, extras={"curves": curves})


def judge(m: Measurement, p: SSPathParams) -> Verdict:
    """Where hypothesis 2 held: strict descent, the end loss, the certificate; SS-P1 per width."""
    table = m.table
    verdict = Verdict()
    df = table[table["part"] == "path"]
    ok = df[df["condition2"].astype(bool)]
    verdict.add("hypothesis 2 (L(P(W0)) > L(0)) held", int(df["condition2"].astype(bool).sum()), len(df), None,
                True, note="SS-T1 applies only where it held", kind="consistency")
    if len(ok):
        verdict.add("rescaled grid strictly decreasing (largest step)", float(ok["max_step"].max()), "< 0",
                    0.0, bool((ok["max_step"] < 0).all()), kind="evidence")
        verdict.add("end loss = L(P(W1))", float(ok["end_gap"].max()), 0.0, p.end_tol,
                    bool((ok["end_gap"] <= p.end_tol).all()), kind="evidence")
        n_cert = int((ok["certificate"] == True).sum())  # noqa: E712
        verdict.add("polygon through the rescaled grid: exact descent certificate", n_cert, len(ok), p.cert_rtol,
                    n_cert == len(ok), note="exact between grid points, ReLU activation patterns enumerated",
                    kind="evidence")
    for r in table[table["part"] == "ss-p1"].itertuples():
        est, bound, se = float(r.estimate), float(r.bound), float(r.se)
        verdict.add(f"SS-P1 Monte Carlo, n_(h-1) = {int(r.width)}", est, f">= {bound:.4f}", p.z * se,
                    est >= bound - p.z * se, kind="evidence")
    return verdict


def draw(m: Measurement, p: SSPathParams) -> dict:
    """The rescaled and the straight path's loss against lambda, per depth."""
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
