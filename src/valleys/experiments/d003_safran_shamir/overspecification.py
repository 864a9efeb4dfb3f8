"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-overspecification``: SS-L2, Bas(full) <= Bas(any subset of neurons).

With Bas the exact basin value (the convex program of SS-L1), the inequality is an identity:
the subset's optimum padded with zero neurons is feasible in the full basin, so it holds for
any optimal QP (consistency). What could fail is that the QP value is the lemma's Bas, the
smallest loss of a *network* in the closed basin: the full basin's minimiser is mapped back
to a network (W, v), its loss evaluated by a direct forward pass, and its sign pattern
checked against the basin's; that network must reach Bas(subset) (evidence). A draw whose
(W, v) is not in a basin interior (a zero pre-activation or output weight) is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins import BasinSolver, basin_of, draw_init
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, _histogram_figure


# --------------------------------------------------------------------------- SS-L2
@dataclass(frozen=True)
class OverspecParams(Params):
    """Parameters of ``safran-shamir-overspecification``.

    Attributes:
        samples, dim, width: data size m, input dimension d and full width n.
        draws: random (W, v, I) triples.
        tol: Bas(full) <= Bas(subset) + tol.
        basin_rtol: a minimiser lies in the closed basin when every sign constraint is
            violated by at most basin_rtol times its largest pre-activation / output weight.
    """

    samples: int = 12
    dim: int = 4
    width: int = 6
    draws: int = 1000
    tol: float = 1e-9
    basin_rtol: float = 1e-9
    QUICK = {"draws": 40}
    LIMITS: ClassVar[dict[str, str]] = {"samples": ">= 1", "dim": ">= 1", "width": ">= 2", "draws": ">= 1",
                                        "tol": ">= 0", "basin_rtol": ">= 0"}


def _network_in_basin(res, pattern, X: np.ndarray, y: np.ndarray, rtol: float) -> tuple[float, bool]:
    """The loss of the network (W, v) returned as the basin's minimiser, by a direct forward
    pass, and whether it lies in the closed basin (signs of W X^T and v, within ``rtol``)."""
    Z = res.W @ X.T
    loss = float(np.mean((np.maximum(Z, 0.0).T @ res.v - y) ** 2))
    zs, vs = max(float(np.abs(Z).max()), 1e-300), max(float(np.abs(res.v).max()), 1e-300)
    inside = bool((pattern.A * Z).min() >= -rtol * zs and (pattern.b * res.v).min() >= -rtol * vs)
    return loss, inside


def measure(p: OverspecParams) -> Measurement:
    """Exact QP basin values of the full net and of a random subset of its neurons, per draw."""
    rows = []
    rng = check_rng(p.seed)
    ds = data.gaussian(p.samples, p.dim, seed=int(rng.integers(2 ** 31)))
    X = ds.X.numpy()
    y = rng.standard_normal(p.samples)
    solver = BasinSolver(X, y)
    statuses = set()
    for i in progress(range(p.draws), "draws"):
        W, v = draw_init(1, p.width, p.dim, "gaussian", rng)
        pat = basin_of(W[0], v[0], X)
        k = int(rng.integers(1, p.width))
        subset = np.sort(rng.choice(p.width, size=k, replace=False))
        full = solver.value(pat, check_empty=False)
        sub = solver.value(pat.subset(subset), check_empty=False)
        statuses |= {full.status, sub.status}
        realised, inside = _network_in_basin(full, pat, X, y, p.basin_rtol)
        rows.append({"draw": i, "k": k, "full": full.value, "subset": sub.value,
                     "difference": sub.value - full.value, "realised_full": realised, "in_basin": inside,
                     "interior_margin": float(min(np.abs(W[0] @ X.T).min(), np.abs(v[0]).min()))})
    table = pd.DataFrame(rows)
    worst = float((table["full"] - table["subset"]).max())
    return Measurement(table, {"max_full_minus_subset": worst, "qp_statuses": sorted(statuses)})


def judge(m: Measurement, p: OverspecParams) -> Verdict:
    """(W, v) in a basin interior per draw; on those draws, the full basin's minimiser is a
    network in the closed basin reaching Bas(subset) (evidence), Bas(full) <= Bas(subset)
    (consistency: an identity of optimal QPs); every QP optimal."""
    table = m.table
    verdict = Verdict()
    interior = table["interior_margin"].to_numpy() > 0.0
    verdict.hypothesis("(W, v) in a basin interior (no zero pre-activation or output weight)",
                       f"{int(interior.sum())} of {len(table)} draws", "every draw", bool(interior.any()))
    ok = table[interior]
    name = "full basin's minimiser, as a network in the closed basin, reaches Bas(subset) (every draw)"
    if ok.empty:
        verdict.not_covered(name, len(table), "no draw starts in a basin interior")
    else:
        holds = ok["in_basin"].astype(bool) & (ok["realised_full"] <= ok["subset"] + p.tol)
        worst = float((ok["realised_full"] - ok["subset"]).max())
        verdict.add(name, int(holds.sum()), len(ok), p.tol, bool(holds.all()),
                    note=f"the loss of the network (W, v) = (u/||u||, b||u||) by a direct forward pass, its signs "
                         f"checked against the full basin's; {int(ok['in_basin'].sum())} of {len(ok)} in the closed "
                         f"basin; max loss - Bas(subset) = {worst:.2e}. Evidence that the QP value is SS-L2's Bas "
                         f"(SS-L1), which the inequality itself cannot show", kind="evidence")
        worst = float((ok["full"] - ok["subset"]).max())
        verdict.add("Bas(full) <= Bas(subset) + tol (every draw)", int((ok["difference"] >= -p.tol).sum()),
                    len(ok), p.tol, worst <= p.tol,
                    note=f"max Bas(full) - Bas(subset) = {worst:.2e}; an identity of optimal QPs (the subset's "
                         f"optimum padded with zero neurons is feasible in the full basin)", kind="consistency")
    statuses = m.summary["qp_statuses"]
    verdict.add("every QP solved to optimality", statuses, ["optimal"], None,
                set(statuses) == {"optimal"}, kind="consistency")
    return verdict


def draw(m: Measurement, p: OverspecParams) -> dict:
    """Bas(full) against Bas(subset); the histograms of both."""
    table = m.table
    fig, (ax,) = figure()
    ax.scatter(table["subset"], table["full"], s=4)
    lim = float(table[["full", "subset"]].max().max())
    ax.plot([0, lim], [0, lim], "k--", lw=1)
    ax.set(xlabel="Bas(subset of neurons)", ylabel="Bas(full net)", title="SS-L2: overspecification helps")
    return {"monotonicity": fig,
            "basin_values": _histogram_figure({"full": table["full"], "subset": table["subset"]}, "Basin values")}


safran_shamir_overspecification = experiment(
    "safran-shamir-overspecification", source=SOURCE_003 + ", Lemma 2",
    claim="SS-L2: Bas(W, v) <= Bas(w_I, v_I) for every subset I of neurons (exact QP values)",
    params=OverspecParams, judge=judge, draw=draw)(measure)
