"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-overspecification``: SS-L2, Bas(full) <= Bas(any subset of neurons).
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
    """

    samples: int = 12
    dim: int = 4
    width: int = 6
    draws: int = 1000
    tol: float = 1e-9
    QUICK = {"draws": 40}
    LIMITS: ClassVar[dict[str, str]] = {"samples": ">= 1", "dim": ">= 1", "width": ">= 2", "draws": ">= 1",
                                        "tol": ">= 0"}


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
        rows.append({"draw": i, "k": k, "full": full.value, "subset": sub.value,
                     "difference": sub.value - full.value})
    table = pd.DataFrame(rows)
    worst = float((table["full"] - table["subset"]).max())
    return Measurement(table, {"max_full_minus_subset": worst, "qp_statuses": sorted(statuses)})


def judge(m: Measurement, p: OverspecParams) -> Verdict:
    """Bas(full) <= Bas(subset) on every draw; every QP optimal."""
    table = m.table
    verdict = Verdict()
    worst = float((table["full"] - table["subset"]).max())
    statuses = m.summary["qp_statuses"]
    verdict.add("Bas(full) <= Bas(subset) + tol (every draw)", int((table["difference"] >= -p.tol).sum()),
                p.draws, p.tol, worst <= p.tol, note=f"max Bas(full) - Bas(subset) = {worst:.2e}",
                kind="evidence")
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
