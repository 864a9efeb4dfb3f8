"""Document 000 (Venturi, Bandeira & Bruna): intrinsic dimension and random features.

``vbb-random-features``: with random first-layer directions, the convex path in u ends
an excess min_u L - R above the floor that falls like 1/p (VBB-T3.4, algorithm A5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...expressivity.random_features import (
    interpolation_losses,
    loglog_slope,
    prefix_least_squares,
    random_feature_excess,
    random_teacher,
    sphere_directions,
)
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_000


# ----------------------------------------------------------------------- random features
@dataclass(frozen=True)
class RandomFeatureParams(Params):
    """Parameters of ``vbb-random-features`` (VBB-T3.4, algorithm A5).

    Attributes:
        n: input dimension. K: teacher directions (rho_k uniform in [-1, 1]).
        activation: sigma of teacher and student.
        N: samples on which min_u L is computed.
        widths: student widths p (nested: the first p of max(widths) directions).
        draws: independent draws of the student directions.
        noise_rel: noise standard deviation s relative to std(f*); R = s^2.
        slope_range: the median excess must have a log-log slope in this range.
        path_points: points on the u-interpolation path.
        path_tol: a path step may rise by at most path_tol * L(start) (rounding).
    """

    n: int = 10
    K: int = 20_000
    activation: str = "relu"
    N: int = 20_000
    widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048)
    draws: int = 20
    noise_rel: float = 0.5
    slope_range: tuple[float, float] = (-1.15, -0.8)
    path_points: int = 101
    path_tol: float = 1e-12
    QUICK = {"K": 2000, "N": 1500, "widths": (16, 32, 64, 128, 256), "draws": 4}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 1", "K": ">= 1", "activation": "one of relu|tanh|sigmoid|softplus|elu|leaky_relu",
        "N": ">= 2", "widths": "nonempty, >= 1", "draws": ">= 1", "noise_rel": ">= 0",
        "slope_range": "nonempty", "path_points": ">= 2", "path_tol": ">= 0"}


def measure(p: RandomFeatureParams) -> Measurement:
    """The excess min_u L - R per width and draw, and the u-interpolation path per width on one draw."""
    gen = check_generator(p.seed)
    teacher = random_teacher(p.n, p.K, p.activation, seed=gen)
    X = torch.randn(p.N, p.n, generator=gen, dtype=torch.float64)
    table = random_feature_excess(teacher, X, p.widths, p.draws, seed=gen,
                                  progress=lambda it: progress(it, "draws of W"))
    med = table.groupby("p").excess.median()
    slope = loglog_slope(med.index.to_numpy(), med.to_numpy())

    # the u-interpolation path (A5) on the noisy loss, one draw
    f = teacher(X)
    s = p.noise_rel * float(f.std())
    y = f + s * torch.randn(p.N, generator=gen, dtype=torch.float64)
    W = sphere_directions(max(p.widths), p.n, gen)
    Phi = teacher.activation(X @ W.T)
    fit = prefix_least_squares(Phi, torch.stack([f, y], 1), p.widths)
    path_rows = []
    for width in p.widths:
        u0 = torch.randn(width, generator=gen, dtype=torch.float64) / width
        u1 = fit.solution(width, column=1)
        losses = interpolation_losses(Phi[:, :width], y, u0, u1, p.path_points)
        rise = float(np.max(np.diff(losses)) / losses[0])
        path_rows.append({"p": width, "start_loss": float(losses[0]), "end_loss": float(losses[-1]),
                          "max_relative_rise": rise, "R": s * s})
    paths = pd.DataFrame(path_rows)
    return Measurement(table, {"slope": slope, "median_excess": {int(k): float(v) for k, v in med.items()},
                               "noise_variance": s * s, "paths": paths.to_dict("records")},
                       extras={"gen": gen, "Phi": Phi, "y": y, "fit": fit})


def judge(m: Measurement, p: RandomFeatureParams) -> Verdict:
    """The median excess falls like 1/p (log-log slope in ``slope_range``); the u-paths never rise."""
    table = m.table
    med = table.groupby("p").excess.median()
    slope = loglog_slope(med.index.to_numpy(), med.to_numpy())
    lo, hi = sorted(p.slope_range)[0], sorted(p.slope_range)[-1]
    verdict = Verdict()
    verdict.add(f"log-log slope of the median excess, p = {min(p.widths)}..{max(p.widths)}", slope,
                [lo, hi], None, lo <= slope <= hi,
                note=f"{p.draws} draws; median excess {med.iloc[0]:.3g} -> {med.iloc[-1]:.3g}",
                kind="evidence")
    decreasing = bool(np.all(np.diff(med.to_numpy()) < 0))
    verdict.add("median excess decreases with p", med.round(12).tolist(), "decreasing", None,
                decreasing, kind="evidence")
    worst = max([float("-inf")] + [float(row["max_relative_rise"]) for row in m.summary["paths"]])
    verdict.add("u-interpolation paths are non-increasing (max relative rise)", worst, 0.0,
                p.path_tol, worst <= p.path_tol, note="convexity of the square loss in u",
                kind="consistency")
    return verdict


def draw(m: Measurement, p: RandomFeatureParams) -> dict:
    """The excess against p (draws, median, 1/p) and the u-paths at the smallest and largest p."""
    table = m.table
    med = table.groupby("p").excess.median()
    slope = m.summary["slope"]
    gen, Phi, y, fit = (m.extras[k] for k in ("gen", "Phi", "y", "fit"))
    s2 = m.summary["noise_variance"]
    fig, (ax1, ax2) = figure(2, width=4.5)
    ax1.loglog(table.p, table.excess, ".", c="0.7", ms=3, label="draws")
    ax1.loglog(med.index, med.to_numpy(), "o-", label=f"median (slope {slope:.2f})")
    ref = med.iloc[0] * (med.index.to_numpy() / med.index[0]) ** -1.0
    ax1.loglog(med.index, ref, "k:", label="1/p")
    ax1.set(xlabel="width p", ylabel="min_u L - R", title="excess over the floor R")
    ax1.legend(fontsize=7)
    for width in (min(p.widths), max(p.widths)):
        u0 = torch.randn(width, generator=gen, dtype=torch.float64) / width
        losses = interpolation_losses(Phi[:, :width], y, u0, fit.solution(width, 1), p.path_points)
        ax2.semilogy(np.linspace(0, 1, p.path_points), losses - s2 + 1e-300, label=f"p = {width}")
    ax2.set(xlabel="t", ylabel="L(u(t)) - R", title="u-interpolation paths")
    ax2.legend(fontsize=7)
    return {"random_features": fig}


vbb_random_features = experiment(
    "vbb-random-features", source=SOURCE_000 + ", Thm 3.4 (random features)",
    claim="VBB-T3.4: with random sphere directions the convex u-path ends min_u L - R "
          "above the floor, with log-log slope in [-1.15, -0.8] in p; the path is monotone",
    params=RandomFeatureParams, judge=judge, draw=draw)(measure)
