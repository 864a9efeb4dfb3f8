"""Document 001 (Sun et al. survey): the two-parameter toy landscapes.

``sun-toy-relu``: (u relu(v) - y)^2 with the seed's target y = 1 — a flat plateau of
sub-optimal local minima.

The example's one hypothesis is a nonzero target: at y = 0 the plateau v < 0 has loss 0 and
is itself the global minimum. Every run records the target of its landscape and the judge
leaves runs with y = 0 out (not covered). The GD fraction is judged against P(v0 < 0) = 1/2,
which holds for the start law N(0, I) that every run records (``start_law``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import scipy.optimize
import torch

from ..._blas import one_blas_thread
from ..._validation import check_generator
from ...core import Landscape
from ...critical import gradient_descent_batch
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import contour, figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001


# ----------------------------------------------------------------------- (u relu(v) - 1)^2
@dataclass(frozen=True)
class ReluParams(Params):
    """Parameters of ``sun-toy-relu``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        target: the target y of (u relu(v) - y)^2 (the seed's example: 1); y = 0 is outside the
            example (the plateau is then global) and gives "not covered".
        n_starts: Gaussian starts N(0, I) of gradient descent.
        lr: step size.
        steps: number of GD steps.
        stuck_tol: a run is stuck on the plateau when |L - y^2| < stuck_tol.
        global_tol: a run reached a global minimum when L < global_tol.
        confidence: coverage of the exact (Clopper-Pearson) interval of the stuck fraction,
            compared with P(v0 < 0) = 1/2.
        min_draws: fewer runs give "insufficient draws".
        probe_radius: largest radius of the neighbourhood probe that certifies a stuck end
            point as a local minimum (the radius used is min(probe_radius, |v|/2)).
        probe_directions: directions of that probe.
        probe_tol: a probe value below L(p) - probe_tol refutes a local minimum.
        search_points: grid points per axis of the direct search for the global minimum on
            [-3, 3]^2 (the best grid point is refined by BFGS).
    """

    target: float = 1.0
    n_starts: int = 10_000
    lr: float = 0.02
    steps: int = 4000
    stuck_tol: float = 1e-8
    global_tol: float = 1e-8
    confidence: float = 0.99
    min_draws: int = 20
    probe_radius: float = 1e-2
    probe_directions: int = 16
    probe_tol: float = 1e-12
    search_points: int = 61
    QUICK = {"n_starts": 4000, "steps": 2500}
    LIMITS: ClassVar[dict[str, str]] = {"target": "in [-10, 10]",
                                        "n_starts": ">= 1", "lr": "> 0", "steps": ">= 1", "stuck_tol": "> 0",
                                        "global_tol": "> 0", "confidence": "in [0.5, 0.999999]",
                                        "min_draws": ">= 1", "probe_radius": "> 0",
                                        "probe_directions": ">= 4", "probe_tol": ">= 0",
                                        "search_points": ">= 3"}


#: The law of the GD starts, recorded per run: P(v0 < 0) = 1/2 is the claim's comparison.
START_LAW = "N(0, I)"


def relu_landscape(target: float = 1.0) -> Landscape:
    r"""The seed's toy landscape \(L(u, v) = (u\,\mathrm{relu}(v) - y)^2\).

    Args:
        target: the target \(y\) (the seed's example: 1).

    Returns:
        The two-parameter :class:`~valleys.core.Landscape` with coordinates named u, v.
    """
    return Landscape.from_function(lambda t: (t[..., 0] * torch.relu(t[..., 1]) - target) ** 2, 2,
                                   names=("u", "v"), rowwise=True)


def measure(p: ReluParams) -> Measurement:
    """Gradient, Hessian and loss at (0,-1), a direct search for the global minimum, GD runs and
    the local-minimum probe of their stuck end points.

    Args:
        p: the parameters.

    Returns:
        The measurement: one row per GD run (start, end, loss, whether stuck, and the run's
        hypothesis quantities ``target`` and ``start_law``); the summary holds the point
        (0,-1) and the direct search.
    """
    land = relu_landscape(p.target)
    plateau = p.target ** 2
    point = torch.tensor([0.0, -1.0], dtype=land.dtype)
    g, H, value = land.grad(point), land.hessian(point), float(land.loss(point))
    best, best_value = _global_search(land, p)

    gen = check_generator(p.seed)
    starts = torch.randn(p.n_starts, 2, generator=gen, dtype=land.dtype)
    ends = gradient_descent_batch(land, starts, lr=p.lr, steps=p.steps).thetas
    final = land.losses(ends)
    stuck = (final - plateau).abs() < p.stuck_tol
    negative = starts[:, 1] < 0
    frac_stuck, frac_neg = float(stuck.double().mean()), float(negative.double().mean())
    minima, radius_min = _stuck_minima(land, ends[stuck], p)
    drift = (~negative) & (starts[:, 0] < 0) & stuck
    table = pd.DataFrame({"u0": starts[:, 0], "v0": starts[:, 1], "u": ends[:, 0], "v": ends[:, 1],
                          "loss": final, "stuck": stuck.numpy(), "drifted": drift.numpy(),
                          "target": p.target, "start_law": START_LAW})
    summary = {"fraction_stuck": frac_stuck, "fraction_v0_negative": frac_neg,
               "fraction_drifted_u_negative_v_positive": float(drift.double().mean()),
               "grad_max_at_0_m1": float(g.abs().max()), "grad_zero_at_0_m1": bool((g == 0).all()),
               "hessian_max_at_0_m1": float(H.abs().max()), "hessian_zero_at_0_m1": bool((H == 0).all()),
               "loss_at_0_m1": value, "global_search_point": best, "global_search_value": best_value,
               "stuck_certified_minima": int(minima.sum()), "probe_radius_smallest": radius_min}
    return Measurement(table, summary, extras={"landscape": land})


def judge(m: Measurement, p: ReluParams) -> Verdict:
    """(0,-1) is a flat sub-optimal point; at least half the runs get stuck there at certified local
    minima, the others reach the global minimum.

    Hypotheses, read from the runs: the target is nonzero (runs with y = 0 are not covered:
    their plateau is global), and the GD fraction is compared with P(v0 < 0) = 1/2 only on
    runs started from the law N(0, I).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The verdict.
    """
    df, s = m.table, m.summary
    verdict = Verdict()
    nonzero = df["target"] != 0
    verdict.hypothesis("target y != 0 (at y = 0 the plateau v < 0 is the global minimum)",
                       f"{int(nonzero.sum())} of {len(df)} runs", "all", bool(nonzero.any()),
                       note=f"targets: {sorted(set(df['target']))}")
    symmetric = nonzero & (df["start_law"] == START_LAW)
    verdict.hypothesis(f"starts drawn from {START_LAW} (so P(v0 < 0) = 1/2)",
                       f"{int(symmetric.sum())} of {len(df)} runs", "all", bool(symmetric.any()),
                       note=f"start laws: {sorted(set(df['start_law']))}")
    names = ("|grad| at (0,-1)", "|Hessian| at (0,-1)", "global minimum found numerically (grid search + BFGS)",
             "(0,-1) is sub-optimal: L(0,-1) - numerical global minimum",
             "every other run reaches the global minimum", "stuck end points are local minima with loss y^2")
    if not nonzero.any():
        for name in (*names, "fraction stuck >= P(v0 < 0) = 1/2"):
            verdict.not_covered(name, "the example's value", note="every run has target y = 0")
        return verdict
    y = float(df.loc[nonzero, "target"].iloc[0])
    plateau = y * y
    df = df[nonzero]
    verdict.add(names[0], s["grad_max_at_0_m1"], 0.0, 0.0, s["grad_zero_at_0_m1"], kind="evidence")
    verdict.add(names[1], s["hessian_max_at_0_m1"], 0.0, 0.0, s["hessian_zero_at_0_m1"], kind="evidence")
    best, best_value, value = s["global_search_point"], s["global_search_value"], s["loss_at_0_m1"]
    verdict.add(names[2], best_value, 0.0, p.global_tol, best_value < p.global_tol,
                note=f"at (u, v) = ({best[0]:.6f}, {best[1]:.6f}); closed form: L = 0 on u v = y, v > 0",
                kind="evidence")
    verdict.add(names[3], value - best_value, plateau, p.global_tol,
                abs(value - best_value - plateau) <= p.global_tol,
                note=f"L(0,-1) = {value:.17g}; closed form y^2 = {plateau:g}", kind="evidence")

    stuck = (df["loss"] - plateau).abs() < p.stuck_tol
    solved = df["loss"] < p.global_tol
    negative = df["v0"] < 0
    frac_stuck, frac_neg = float(stuck.mean()), float(negative.mean())
    verdict.add("fraction stuck at loss y^2 >= fraction with v0 < 0", frac_stuck, f">= {frac_neg:.4f}",
                0.0, frac_stuck >= frac_neg, kind="consistency")
    verdict.add("every start with v0 < 0 is stuck", int((stuck & negative).sum()),
                int(negative.sum()), 0.0, bool(stuck[negative].all()), kind="consistency")
    law = symmetric[nonzero]
    if law.any():
        proportion_check(verdict, "fraction stuck >= P(v0 < 0) = 1/2", int(stuck[law].sum()), int(law.sum()),
                         at_least=0.5, confidence=p.confidence, min_draws=p.min_draws,
                         note=f"runs from {START_LAW}; sample fraction with v0 < 0: {float(negative[law].mean()):.4f}")
    else:
        verdict.not_covered("fraction stuck >= P(v0 < 0) = 1/2", ">= 0.5",
                            note=f"no run started from {START_LAW}: P(v0 < 0) = 1/2 is not known")
    verdict.add(names[4], int(solved.sum()), int((~stuck).sum()), p.global_tol, bool((stuck | solved).all()),
                kind="evidence")
    n_stuck, n_minima = int(stuck.sum()), s["stuck_certified_minima"]
    verdict.add(names[5] + " (zero gradient, probe finds no lower loss)", f"{n_minima}/{n_stuck}",
                f"{n_stuck}/{n_stuck}", p.probe_tol, n_stuck > 0 and n_minima == n_stuck,
                note=f"probe: {p.probe_directions} directions at radii min({p.probe_radius:g}, |v|/2) "
                     f"(smallest used {s['probe_radius_smallest']:.2e}); a sampled neighbourhood, not a proof",
                kind="evidence")
    return verdict


def draw(m: Measurement, p: ReluParams) -> dict:
    """The starts, coloured by where GD ended.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        ``{"starts": figure}``.
    """
    df = m.table
    stuck = (df["loss"] - p.target ** 2).abs() < p.stuck_tol
    solved = df["loss"] < p.global_tol
    fig, (ax,) = figure()
    contour(ax, m.extras["landscape"], 3.0)
    ax.scatter(df.loc[stuck, "u0"][:2000], df.loc[stuck, "v0"][:2000], s=2, c="red", label="stuck at L = y^2")
    ax.scatter(df.loc[solved, "u0"][:2000], df.loc[solved, "v0"][:2000], s=2, c="white",
               label="reached L = 0")
    ax.set(xlim=(-3, 3), ylim=(-3, 3), xlabel="u0", ylabel="v0",
           title=f"(u relu(v) - {p.target:g})^2: {float(stuck.mean()):.1%} of starts stuck")
    ax.legend(loc="lower left", fontsize=7)
    return {"starts": fig}


sun_toy_relu = experiment(
    "sun-toy-relu", source=SOURCE_001 + ", toy (u relu(v) - y)^2, y = 1",
    claim="SUN-Ex-relu: (0,-1) has zero gradient and Hessian with loss 1 > 0 = global "
          "minimum; the fraction of GD runs stuck at loss 1 is at least P(v0 < 0) = 1/2",
    params=ReluParams, judge=judge, draw=draw)(measure)


def _global_search(land: Landscape, p: ReluParams) -> tuple[list[float], float]:
    """The lowest loss of a direct grid search on [-3, 3]^2, refined by BFGS (scipy)."""
    g = torch.linspace(-3.0, 3.0, p.search_points, dtype=land.dtype)
    grid = torch.cartesian_prod(g, g)
    start = grid[int(torch.argmin(land.losses(grid)))].numpy()

    def fun(x):
        t = torch.tensor(x, dtype=land.dtype)
        value, grad = land.loss_and_grad(t)
        return float(value), grad.numpy()

    with one_blas_thread():
        res = scipy.optimize.minimize(fun, start, jac=True, method="BFGS", options={"gtol": 1e-14})
    return res.x.tolist(), float(res.fun)


def _stuck_minima(land: Landscape, points: torch.Tensor, p: ReluParams) -> tuple[torch.Tensor, float]:
    """Mask of stuck points certified as local minima: zero gradient and no probe value below
    L(p) - probe_tol on circles of radius min(probe_radius, |v|/2) (and half, a quarter of it)."""
    if not len(points):
        return torch.zeros(0, dtype=torch.bool), float("nan")
    values = land.losses(points)
    zero_grad = (land.grads(points) == 0).all(1)
    radius = torch.clamp(points[:, 1].abs() / 2, max=p.probe_radius)
    radius = torch.where(radius > 0, radius, torch.full_like(radius, p.probe_radius))
    angles = torch.linspace(0, 2 * math.pi, p.probe_directions + 1, dtype=land.dtype)[:-1]
    ring = torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    offsets = torch.cat([f * ring for f in (1.0, 0.5, 0.25)])
    around = points[:, None, :] + radius[:, None, None] * offsets[None]
    lowest = land.losses(around.reshape(-1, 2)).reshape(len(points), -1).min(1).values
    return zero_grad & (lowest >= values - p.probe_tol), float(radius.min())
