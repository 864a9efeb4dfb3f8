"""Document 002 (Cooper): the straight descent line of COO-C5.9, certified.

``cooper-straight-descent``: with m_{l-1} >= n and full-rank last-hidden features, the
straight line from p to (p_I, least-squares last layer) is a descent path to a global
minimum along which L(t) = (1 - t)^2 L(p).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...literature.cooper2020 import cooper_line
from ...nets import mlp
from ...paths import certify, evaluate
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_002 = "002 Cooper, 'The critical locus of overparameterized neural networks'"


@dataclass(frozen=True)
class CooperLineParams(Params):
    """Parameters of ``cooper-straight-descent``.

    Attributes:
        activations: smooth activations of the hidden layers.
        n: number of samples.
        widths: the hidden widths (the last one >= n).
        in_dim, out_dim: a and b.
        n_points: random points p per activation.
        init_std: standard deviation of the random points.
        rtol: relative tolerance of L(t) = (1 - t)^2 L(p) (CLAIMS.md: 1e-10).
        n_t: interior t at which the closed form is compared.
        cert_rtol: relative tolerance of the descent certificate.
    """

    activations: tuple[str, ...] = ("tanh", "sigmoid", "softplus", "relu")
    n: int = 20
    widths: tuple[int, ...] = (8, 24)
    in_dim: int = 3
    out_dim: int = 2
    n_points: int = 50
    init_std: float = 1.0
    rtol: float = 1e-10
    n_t: int = 9
    cert_rtol: float = 1e-10
    QUICK = {"n_points": 5}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of tanh|sigmoid|softplus|relu|leaky_relu|elu",
        "n": ">= 1", "widths": "nonempty, >= 1", "in_dim": ">= 1", "out_dim": ">= 1", "n_points": ">= 1",
        "init_std": "> 0", "rtol": ">= 0", "n_t": ">= 1", "cert_rtol": ">= 0"}


def measure(p: CooperLineParams) -> Measurement:
    """The closed form, end loss and descent certificate at ``n_points`` random points per activation."""
    gen = check_generator(p.seed)
    X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n, p.out_dim, generator=gen, dtype=torch.float64)
    rows, example = [], None
    for act in progress(p.activations, "cooper-straight-descent"):
        land = Landscape(mlp([p.in_dim, *p.widths, p.out_dim], act), (X, Y), loss="mse", reduction="sum")
        for k in range(p.n_points):
            theta = p.init_std * torch.randn(land.dim, generator=gen, dtype=torch.float64)
            built = cooper_line(land, theta)
            L0 = float(land.loss(theta))
            t = (torch.arange(1, p.n_t + 1, dtype=torch.float64) / (p.n_t + 1))
            along = land.losses(theta + t[:, None] * (built.end - theta))
            err = float(((along - (1 - t) ** 2 * L0).abs() / max(L0, 1e-300)).max())
            cert = certify(built.path, land, tol=p.cert_rtol * max(1.0, L0))
            rows.append({"activation": act, "point": k, "L0": L0, "end_loss": built.end_loss,
                         "rank_augmented": built.info["rank_augmented"], "closed_form_rel_err": err,
                         "certificate": cert.holds, "kind": cert.kind, "max_rise": cert.max_rise})
            if example is None:
                example = (built, land)
    df = pd.DataFrame(rows)
    return Measurement(df, {"max_rel_err": float(np.max(df["closed_form_rel_err"]))}, extras={"example": example})


def judge(m: Measurement, p: CooperLineParams) -> Verdict:
    """The closed form and the global minimum where rank [Phi; 1] = n; every certificate holds."""
    df = m.table
    verdict = Verdict()
    full = df["rank_augmented"] == p.n
    err = df.loc[full, "closed_form_rel_err"]
    verdict.add("L(t) = (1 - t)^2 L(p) on the line where rank [Phi; 1] = n (max relative error)",
                float(err.max()) if len(err) else float("nan"), 0.0, p.rtol,
                bool(len(err) and (err <= p.rtol).all()),
                note="evaluated by the landscape at interior t, against the closed form; rank-deficient "
                     "points (dead ReLU units) keep a convex descent to a positive loss", kind="evidence")
    verdict.add("end loss = 0 (global minimum) where rank [Phi; 1] = n", float(df.loc[full, "end_loss"].max()),
                0.0, p.rtol, bool(full.any() and (df.loc[full, "end_loss"] <= p.rtol * df.loc[full, "L0"]).all()),
                note=f"{int(full.sum())}/{len(df)} points with full-rank features", kind="evidence")
    n_cert = int((df["certificate"] == True).sum())  # noqa: E712
    verdict.add("descent certificates that hold", n_cert, len(df), p.cert_rtol, n_cert == len(df),
                note=f"kinds: {sorted(set(df['kind']))} (the line moves only the last layer: the loss is a "
                     "quadratic in t, analysed exactly)", kind="evidence")
    return verdict


def draw(m: Measurement, p: CooperLineParams) -> dict:
    """The loss along the first point's line against the closed form."""
    fig, (ax,) = figure()
    built, land = m.extras["example"]
    rep = evaluate(built.path, land, num=101, max_points=101)
    ax.plot(rep.t, rep.losses, label="L(p + t (g - p))")
    ax.plot(rep.t, (1 - rep.t) ** 2 * rep.losses[0], "--", label="(1 - t)^2 L(p)")
    ax.set(xlabel="t", ylabel="loss", title="COO-C5.9: straight descent to the fibre minimum")
    ax.legend()
    return {"line": fig}


cooper_straight_descent = experiment(
    "cooper-straight-descent", source=SOURCE_002 + ", Corollary 5.9",
    claim="COO-C5.9: with m_{l-1} >= n and full-rank features the straight line to the "
          "least-squares last layer is a descent path to a global minimum, L(t) = (1 - t)^2 L(p)",
    params=CooperLineParams, judge=judge, draw=draw)(measure)
