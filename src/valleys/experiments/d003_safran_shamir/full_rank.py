"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-full-rank``: SS-T4, rank X = m; Monte Carlo against 1 - m(3/4)^n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins import BasinTolerances, FullRankCriterion, initial_basin_quality
from ...record import Measurement
from ..common import progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, _cross_validate, _histogram_figure, _probability_figure


# --------------------------------------------------------------------------- SS-T4 full rank
@dataclass(frozen=True)
class FullRankParams(Params):
    """Parameters of ``safran-shamir-full-rank``.

    Attributes:
        samples: numbers of samples m (d = m + extra_dims, Gaussian X, N(0, 1) targets).
        extra_dims: d - m.
        widths: hidden widths n.
        draws: Monte Carlo initialisations per (m, n).
        init: ``gaussian`` or ``sphere``.
        qp_draws, qp_widths: the QP cross-validation subsample.
        z: standard errors allowed below the bound.
        value_tol: absolute tolerance on basin values.
    """

    samples: tuple[int, ...] = (5, 20, 50)
    extra_dims: int = 5
    widths: tuple[int, ...] = (2, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    draws: int = 10_000
    init: str = "gaussian"
    qp_draws: int = 30
    qp_widths: tuple[int, ...] = (2, 8, 16)
    z: float = 3.0
    value_tol: float = 1e-7
    QUICK = {"samples": (5, 20), "widths": (2, 4, 8, 16, 24), "draws": 3000, "qp_draws": 8,
             "qp_widths": (2, 8)}
    LIMITS: ClassVar[dict[str, str]] = {
        "samples": "nonempty, >= 1", "extra_dims": ">= 0", "widths": "nonempty, >= 1", "draws": ">= 1",
        "init": "one of gaussian|sphere", "qp_draws": ">= 1", "qp_widths": "nonempty, >= 1",
        "z": "> 0", "value_tol": ">= 0"}


def measure(p: FullRankParams) -> Measurement:
    """Monte Carlo and bound per (m, n); the QP cross-validation in the summary."""
    rows, hist = [], {}
    rng = check_rng(p.seed)
    tol = BasinTolerances()
    agree = total = 0
    worst = 0.0
    for m in progress(p.samples, "sample sizes"):
        ds = data.full_rank(m, m + p.extra_dims, seed=int(rng.integers(2 ** 31)))
        X, y = ds.X.numpy(), ds.y.numpy()
        q = initial_basin_quality(X, y, p.widths, p.draws, p.init, rng, method="full_rank",
                                  rel_tol=p.value_tol)
        rows.append(q.table.assign(m=m, d=X.shape[1]))
        hist[f"m={m}, n={p.widths[0]}"] = q.values[p.widths[0]]
        cv = _cross_validate(X, y, FullRankCriterion(X, y), "full_rank", p.qp_widths, p.qp_draws, rng,
                             tol, p.value_tol)
        agree, total = agree + cv["agree"], total + cv["total"]
        worst = max(worst, cv["max_value_diff"])
    table = pd.concat(rows, ignore_index=True)
    return Measurement(table, {"qp_max_value_diff": worst, "qp_agree": agree, "qp_total": total},
                       extras={"hist": hist})


def judge(m: Measurement, p: FullRankParams) -> Verdict:
    """Monte Carlo against the bound; the QP cross-validation."""
    table, s = m.table, m.summary
    verdict = Verdict()
    gap = (table["bound"] - p.z * table["se"]) - table["estimate"]
    verdict.add("Monte Carlo >= 1 - m(3/4)^n - z SE (every m, n)", float(gap.max()), "<= 0", p.z,
                bool((gap <= 0).all()), note="measured: largest (bound - z SE) - estimate", kind="evidence")
    verdict.add("sign criterion == exact QP basin value (draws agreeing on Bas <= alpha)", s["qp_agree"],
                s["qp_total"], p.value_tol, s["qp_agree"] == s["qp_total"], kind="evidence")
    worst = s["qp_max_value_diff"]
    verdict.add("QP basin values equal the criterion's closed form", worst, 0.0, p.value_tol,
                worst <= p.value_tol, kind="evidence")
    return verdict


def draw(m: Measurement, p: FullRankParams) -> dict:
    """The probabilities against width; the basin values of random inits."""
    return {"probability": _probability_figure(m.table, "m", "SS-T4 full-rank data"),
            "basin_values": _histogram_figure(m.extras["hist"], "Basin values of random inits (full rank)")}


safran_shamir_full_rank = experiment(
    "safran-shamir-full-rank", source=SOURCE_003 + ", Theorem 4 (rank X = m)",
    claim="SS-T4: P[Bas(W,v) <= alpha] >= 1 - m(3/4)^n when rank X = m; the sign "
          "criterion agrees with exact basin values",
    params=FullRankParams, judge=judge, draw=draw)(measure)
