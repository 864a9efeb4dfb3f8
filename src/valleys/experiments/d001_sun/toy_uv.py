"""Document 001 (Sun et al. survey): the two-parameter toy landscapes.

``sun-toy-uv``: (uv - 1)^2 — a strict saddle at 0 and a curve of global minima.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...critical import gradient_descent_batch
from ...curvature.rank import numerical_rank
from ...record import Measurement
from ..common import contour, figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001


def uv_landscape() -> Landscape:
    r"""The seed's toy landscape \(L(u, v) = (uv - 1)^2\).

    Returns:
        The two-parameter :class:`~valleys.core.Landscape` (coordinates u, v).
    """
    return Landscape.from_function(lambda t: (t[..., 0] * t[..., 1] - 1.0) ** 2, 2,
                                   names=("u", "v"), rowwise=True)


# --------------------------------------------------------------------------- (uv - 1)^2
@dataclass(frozen=True)
class UVParams(Params):
    """Parameters of ``sun-toy-uv``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_starts: random starts of gradient descent (N(0, init_std^2 I)).
        init_std: standard deviation of the starts.
        lr: gradient-descent step size.
        steps: gradient-descent steps.
        reach_tol: a run reached the curve when |u v - 1| < reach_tol.
        eig_tol: absolute tolerance on the closed-form Hessian eigenvalues.
        tau: relative threshold for a zero eigenvalue (|lambda| <= tau max|lambda|).
        n_curve_points: points of the curve u v = 1 where the Hessian is checked.
    """

    n_starts: int = 1000
    init_std: float = 1.0
    lr: float = 0.02
    steps: int = 4000
    reach_tol: float = 1e-8
    eig_tol: float = 1e-12
    tau: float = 1e-8
    n_curve_points: int = 200
    QUICK = {"n_starts": 1000, "steps": 3000, "n_curve_points": 50}
    LIMITS: ClassVar[dict[str, str]] = {"n_starts": ">= 1", "init_std": "> 0", "lr": "> 0", "steps": ">= 1",
                                        "reach_tol": "> 0", "eig_tol": ">= 0", "tau": "in [0, 1]",
                                        "n_curve_points": ">= 1"}


def measure(p: UVParams) -> Measurement:
    """Hessian spectra at the origin and on uv = 1, and the ends of ``n_starts`` GD runs.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    land = uv_landscape()
    rows = []
    origin = torch.zeros(2, dtype=land.dtype)
    eig0 = torch.linalg.eigvalsh(land.hessian(origin))
    rows += [{"point": "origin", "u": 0.0, "v": 0.0, "eigenvalue": float(e), "theory": t}
             for e, t in zip(eig0, (-2.0, 2.0), strict=True)]

    gen = check_generator(p.seed)
    s = torch.randn(p.n_curve_points, generator=gen, dtype=land.dtype)
    sign = torch.where(torch.rand(p.n_curve_points, generator=gen) < 0.5, -1.0, 1.0).to(land.dtype)
    curve = torch.stack([sign * torch.exp(s), sign * torch.exp(-s)], 1)
    eigs = torch.linalg.eigvalsh(land.hessians(curve))
    theory = torch.stack([torch.zeros_like(s), 2 * (curve ** 2).sum(1)], 1)
    rows += [{"point": "curve", "u": float(c[0]), "v": float(c[1]), "eigenvalue": float(e),
              "theory": float(t)} for c, ev, th in zip(curve, eigs, theory, strict=True)
             for e, t in zip(ev, th, strict=True)]

    starts = p.init_std * torch.randn(p.n_starts, 2, generator=gen, dtype=land.dtype)
    ends = gradient_descent_batch(land, starts, lr=p.lr, steps=p.steps).thetas
    gap = (ends[:, 0] * ends[:, 1] - 1.0).abs()
    rows += [{"point": "gd-end", "u": float(a), "v": float(b), "start_u": float(s0[0]),
              "start_v": float(s0[1]), "gap": float(g)}
             for a, b, s0, g in zip(ends[:, 0], ends[:, 1], starts, gap, strict=True)]
    return Measurement(pd.DataFrame(rows), {"max_gap": float(gap.max())}, extras={"landscape": land})


def judge(m: Measurement, p: UVParams) -> Verdict:
    """The closed-form spectra at the origin and on uv = 1, one zero eigenvalue there, GD reaches it.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    df = m.table
    verdict = Verdict()
    at_origin = (df["point"] == "origin") & (df["u"] == 0) & (df["v"] == 0)
    on_curve = (df["point"] == "curve") & ((df["u"] * df["v"] - 1).abs() <= p.reach_tol)
    gd = df["point"] == "gd-end"
    off_stable = gd & ((df["start_u"] + df["start_v"]).abs() > 0)
    for name, mask, part in (("the origin rows are at (0, 0)", at_origin, "origin"),
                             ("the curve points lie on uv = 1 (within reach_tol)", on_curve, "curve"),
                             ("GD starts off the origin's stable line u = -v", off_stable, "gd-end")):
        total = int((df["point"] == part).sum())
        verdict.hypothesis(name, f"{int(mask.sum())} of {total} rows", "all", bool(mask.any()))
    origin = df[at_origin]
    if origin.empty:
        verdict.not_covered("Hessian eigenvalues at (0,0)", [-2.0, 2.0], note="no row at the origin")
    else:
        err0 = float((origin["eigenvalue"] - origin["theory"]).abs().max())
        verdict.add("Hessian eigenvalues at (0,0)", origin["eigenvalue"].tolist(), [-2.0, 2.0], p.eig_tol,
                    err0 <= p.eig_tol, kind="evidence")

    curve = df[on_curve]
    if curve.empty:
        for name in ("Hessian eigenvalues on uv = 1 vs {0, 2(u^2+v^2)}", "zero eigenvalues on uv = 1"):
            verdict.not_covered(name, "closed form", note="no point on uv = 1")
    else:
        top = 2 * (curve["u"] ** 2 + curve["v"] ** 2)  # the nonzero closed-form eigenvalue 2(u^2 + v^2)
        rel_err = float(((curve["eigenvalue"] - curve["theory"]).abs() / top).max())
        verdict.add("Hessian eigenvalues on uv = 1 vs {0, 2(u^2+v^2)} (max relative error)",
                    rel_err, 0.0, p.eig_tol, rel_err <= p.eig_tol, kind="evidence")
        nullities = [numerical_rank(g["eigenvalue"].to_numpy(), tau=p.tau, warn=False).nullity
                     for _, g in curve.groupby(["u", "v"], sort=False)]
        verdict.add("zero eigenvalues on uv = 1 (every point)", sorted(set(nullities)), [1], p.tau,
                    set(nullities) == {1}, note="COO: d - bn = 2 - 1", kind="evidence")

    gap = df.loc[off_stable, "gap"]
    if gap.empty:
        verdict.not_covered("GD runs reaching uv = 1", "all", note="every start lies on u = -v")
    else:
        reached = gap < p.reach_tol
        verdict.add("GD runs reaching uv = 1", int(reached.sum()), len(gap), p.reach_tol,
                    bool(reached.all()), note=f"max |uv - 1| = {float(gap.max()):.2e}; "
                    f"{int(gd.sum()) - len(gap)} starts on u = -v left out", kind="evidence")
    return verdict


def draw(m: Measurement, p: UVParams) -> dict:
    """The landscape with the GD starts and ends.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``landscape``.
    """
    ends = m.table[m.table["point"] == "gd-end"]
    fig, (ax,) = figure()
    contour(ax, m.extras["landscape"], 3.0)
    ax.scatter(ends["start_u"], ends["start_v"], s=3, c="white", alpha=0.5, label="starts")
    ax.scatter(ends["u"], ends["v"], s=4, c="red", label="GD ends")
    ax.plot([0], [0], "k+", ms=12, label="saddle")
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="u", ylabel="v", title="(uv - 1)^2: GD ends on uv = 1")
    ax.legend(loc="lower left", fontsize=7)
    return {"landscape": fig}


sun_toy_uv = experiment(
    "sun-toy-uv", source=SOURCE_001 + ", toy (uv - 1)^2",
    claim="SUN-Ex-uv: (0,0) is a strict saddle (eigenvalues +-2), the global minima "
          "uv = 1 have one zero and one positive eigenvalue, and GD reaches uv = 1",
    params=UVParams, judge=judge, draw=draw)(measure)
