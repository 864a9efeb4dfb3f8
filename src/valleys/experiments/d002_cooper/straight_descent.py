"""Document 002 (Cooper): the straight descent line of COO-C5.9, certified.

``cooper-straight-descent``: with m_{l-1} >= n and full-rank last-hidden features, the
straight line from p to (p_I, least-squares last layer) is a descent path to a global
minimum along which L(t) = (1 - t)^2 L(p).

Once rank [Phi; 1] = n the line's three properties are algebra (the last layer solves a
consistent least-squares system; the loss is then (1 - t)^2 L(p) exactly): they are
consistency checks. The empirical fact is COO-T5.10 (NMH18): for an activation of its class
(analytic, strictly increasing, bounded, tending to 0 at one end: the sigmoid here) and
m_{l-1} >= n with distinct inputs, rank Phi_{l-1} = n at almost every p; it is the evidence,
counted over random draws with an exact interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...curvature.rank import matrix_rank
from ...literature.cooper2020 import cooper_line, fibre_split
from ...nets import mlp
from ...paths import certify, evaluate
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_002 = "002 Cooper, 'The critical locus of overparameterized neural networks'"

T510_CLASS = {"sigmoid": True, "tanh": False, "softplus": False, "relu": False,
              "leaky_relu": False, "elu": False}
"""Whether an activation meets COO-T5.10's hypothesis on sigma (analytic, strictly increasing,
bounded, with limit 0 at one end): tanh tends to -1 and 1, softplus and elu are unbounded,
relu and leaky_relu are not analytic."""


@dataclass(frozen=True)
class CooperLineParams(Params):
    """Parameters of ``cooper-straight-descent``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        activations: smooth activations of the hidden layers.
        n: number of samples.
        widths: the hidden widths (the last one >= n).
        in_dim: the input dimension a.
        out_dim: the output dimension b.
        n_points: random points p per activation.
        init_std: standard deviation of the random points.
        rtol: relative tolerance of L(t) = (1 - t)^2 L(p) (CLAIMS.md: 1e-10).
        n_t: interior t at which the closed form is compared.
        cert_rtol: relative tolerance of the descent certificate.
        rank_draws: further random points per activation at which only rank Phi_{l-1} is
            computed (COO-T5.10; CLAIMS.md: 1000 draws).
        rank_tau: relative singular-value threshold of the ranks.
        min_draws: fewer covered draws than this give "insufficient draws".
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
    rank_draws: int = 1000
    rank_tau: float = 1e-10
    min_draws: int = 20
    QUICK = {"n_points": 5, "rank_draws": 20}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of tanh|sigmoid|softplus|relu|leaky_relu|elu",
        "n": ">= 1", "widths": "nonempty, >= 1", "in_dim": ">= 1", "out_dim": ">= 1", "n_points": ">= 1",
        "init_std": "> 0", "rtol": ">= 0", "n_t": ">= 1", "cert_rtol": ">= 0",
        "rank_draws": ">= 0", "rank_tau": "in [0, 1]", "min_draws": ">= 1"}


def _hypothesis_columns(land: Landscape, theta: torch.Tensor, act: str, p: CooperLineParams) -> dict:
    """What COO-T5.10 and C5.9 ask of one draw: the activation's class, m_{l-1} >= n, distinct
    inputs, and rank Phi_{l-1} (with its smallest relative singular value)."""
    Phi = fibre_split(land, theta).features
    sv = torch.linalg.svdvals(Phi)
    rank = matrix_rank(Phi, tau=p.rank_tau, warn=False).count
    return {"in_t510_class": T510_CLASS.get(act, False), "m_last": int(p.widths[-1]),
            "distinct_x": bool(torch.unique(land.inputs(), dim=0).shape[0] == p.n),
            "rank_features": int(rank),
            "sv_ratio_features": float(sv.min() / sv.max()) if sv.numel() and sv.max() > 0 else 0.0}


def measure(p: CooperLineParams) -> Measurement:
    """The closed form, end loss and descent certificate at ``n_points`` random points per
    activation (``part = "line"``), then rank Phi_{l-1} at ``rank_draws`` further random points
    per activation (``part = "rank"``; drawn after the line points, from the same stream).

    Args:
        p: the parameters.

    Returns:
        The measurement: the table of measured rows with its summary.
    """
    gen = check_generator(p.seed)
    X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n, p.out_dim, generator=gen, dtype=torch.float64)
    rows, example, lands = [], None, {}
    for act in progress(p.activations, "cooper-straight-descent"):
        land = Landscape(mlp([p.in_dim, *p.widths, p.out_dim], act), (X, Y), loss="mse", reduction="sum")
        lands[act] = land
        for k in range(p.n_points):
            theta = p.init_std * torch.randn(land.dim, generator=gen, dtype=torch.float64)
            built = cooper_line(land, theta)
            L0 = float(land.loss(theta))
            t = (torch.arange(1, p.n_t + 1, dtype=torch.float64) / (p.n_t + 1))
            along = land.losses(theta + t[:, None] * (built.end - theta))
            err = float(((along - (1 - t) ** 2 * L0).abs() / max(L0, 1e-300)).max())
            cert = certify(built.path, land, tol=p.cert_rtol * max(1.0, L0))
            rows.append({"part": "line", "activation": act, "point": k, "L0": L0,
                         "end_loss": built.end_loss,
                         "rank_augmented": built.info["rank_augmented"], "closed_form_rel_err": err,
                         "certificate": cert.holds, "kind": cert.kind, "max_rise": cert.max_rise,
                         **_hypothesis_columns(land, theta, act, p)})
            if example is None:
                example = (built, land)
    for act, land in lands.items():
        for k in range(p.rank_draws):
            theta = p.init_std * torch.randn(land.dim, generator=gen, dtype=torch.float64)
            rows.append({"part": "rank", "activation": act, "point": p.n_points + k,
                         **_hypothesis_columns(land, theta, act, p)})
    df = pd.DataFrame(rows)
    line = df[df["part"] == "line"]
    return Measurement(df, {"max_rel_err": float(np.max(line["closed_form_rel_err"]))},
                       extras={"example": example})


def judge(m: Measurement, p: CooperLineParams) -> Verdict:
    """Evidence: rank Phi_{l-1} = n at every random draw that meets COO-T5.10's hypotheses
    (exact interval). Consistency: the line's closed form, end loss and certificates, which
    are algebra once rank [Phi; 1] = n.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    df = m.table
    verdict = Verdict()
    t510 = df["in_t510_class"].astype(bool) & (df["m_last"] >= p.n) & df["distinct_x"].astype(bool)
    verdict.hypothesis("COO-T5.10: sigma analytic, increasing, bounded, -> 0 at one end; "
                       "m_{l-1} >= n; distinct x_i", f"{int(t510.sum())} of {len(df)} draws", "all",
                       bool(t510.any()),
                       note=f"activations in the class: {sorted(set(df.loc[t510, 'activation']))}; "
                            "the other draws are left out of the rank evidence")
    covered = df[t510]
    if covered.empty:
        verdict.not_covered("rank Phi_{l-1} = n at random points (COO-T5.10)", "100% of draws",
                            note="no draw meets COO-T5.10's hypotheses")
    else:
        full_rank = int((covered["rank_features"] == p.n).sum())
        proportion_check(verdict, "rank Phi_{l-1} = n at random points (COO-T5.10)", full_rank,
                         len(covered), at_least=1.0, min_draws=p.min_draws,
                         note=f"an SVD of the features at independent random points (relative "
                              f"threshold {p.rank_tau:g}); the theorem says rank < n has measure 0, "
                              f"so a single deficient draw contradicts it; smallest sigma_min/"
                              f"sigma_max {float(covered['sv_ratio_features'].min()):.3g}")
    line = df[df["part"] == "line"]
    c59 = (line["m_last"] >= p.n) & (line["rank_augmented"] == p.n)
    verdict.hypothesis("COO-C5.9: m_{l-1} >= n and rank [Phi; 1] = n", f"{int(c59.sum())} of {len(line)} points",
                       "all", bool(c59.any()),
                       note="points below it (dead ReLU units, narrow last layer) keep a convex "
                            "descent to a positive loss and are left out of the line checks")
    ok = line[c59]
    algebra = ("consistency: once rank [Phi; 1] = n the least-squares last layer interpolates and "
               "L(t) = (1 - t)^2 L(p) is algebra")
    if ok.empty:
        for name in ("L(t) = (1 - t)^2 L(p) on the line", "end loss = 0 (global minimum)"):
            verdict.not_covered(name, 0.0, note="no point meets C5.9's hypotheses", kind="consistency")
    else:
        err = ok["closed_form_rel_err"]
        verdict.add("L(t) = (1 - t)^2 L(p) on the line where rank [Phi; 1] = n (max relative error)",
                    float(err.max()), 0.0, p.rtol, bool((err <= p.rtol).all()),
                    note=f"evaluated by the landscape at interior t, against the closed form; {algebra}",
                    kind="consistency")
        verdict.add("end loss = 0 (global minimum) where rank [Phi; 1] = n", float(ok["end_loss"].max()),
                    0.0, p.rtol, bool((ok["end_loss"] <= p.rtol * ok["L0"]).all()),
                    note=f"{len(ok)}/{len(line)} points with full-rank features; {algebra}",
                    kind="consistency")
    n_cert = int((line["certificate"] == True).sum())  # noqa: E712
    verdict.add("descent certificates that hold", n_cert, len(line), p.cert_rtol, n_cert == len(line),
                note=f"kinds: {sorted(set(line['kind']))} (the line moves only the last layer: the loss "
                     "is a convex quadratic in t, analysed exactly; consistency)", kind="consistency")
    return verdict


def draw(m: Measurement, p: CooperLineParams) -> dict:
    """The loss along the first point's line against the closed form.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name.
    """
    fig, (ax,) = figure()
    built, land = m.extras["example"]
    rep = evaluate(built.path, land, num=101, max_points=101)
    ax.plot(rep.t, rep.losses, label="L(p + t (g - p))")
    ax.plot(rep.t, (1 - rep.t) ** 2 * rep.losses[0], "--", label="(1 - t)^2 L(p)")
    ax.set(xlabel="t", ylabel="loss", title="COO-C5.9: straight descent to the fibre minimum")
    ax.legend()
    return {"line": fig}


cooper_straight_descent = experiment(
    "cooper-straight-descent", source=SOURCE_002 + ", Theorem 5.10 (NMH18) and Corollary 5.9",
    claim="COO-T5.10/C5.9: for sigmoid-like sigma and m_{l-1} >= n, rank Phi_{l-1} = n at random "
          "points; with full-rank features the straight line to the least-squares last layer is a "
          "descent path to a global minimum, L(t) = (1 - t)^2 L(p)",
    params=CooperLineParams, judge=judge, draw=draw)(measure)
