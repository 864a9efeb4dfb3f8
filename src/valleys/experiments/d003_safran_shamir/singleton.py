"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-singleton``: SS-T2, singleton data; Monte Carlo, the exact probability
derived from the sign criterion and the bound 1 - 2d(3/4)^n side by side.

The Monte Carlo is judged with exact (Clopper–Pearson) intervals, Bonferroni-corrected over
the (d, n) rows; a row with fewer than ``min_draws`` draws does not decide, and a negative
bound is reported as vacuous. Each d's data is checked to be singleton (SS-T2's hypothesis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins import BasinTolerances, SingletonCriterion, initial_basin_quality
from ...record import Measurement
from ...record.stats import CONFIDENCE, proportion_rows
from ..common import progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, _cross_validate, _histogram_figure, _probability_figure


# --------------------------------------------------------------------------- SS-T2 singleton
@dataclass(frozen=True)
class SingletonParams(Params):
    """Parameters of ``safran-shamir-singleton``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        dims: input dimensions d.
        points_per_dim: singleton points per coordinate (m = points_per_dim * d).
        widths: hidden widths n.
        draws: Monte Carlo initialisations per (d, n).
        init: ``gaussian`` or ``sphere`` (Assumption 1).
        qp_draws: draws per width whose exact QP basin value is compared with the criterion.
        qp_widths: widths of that comparison.
        confidence: overall coverage of the exact intervals of the Monte Carlo checks.
        min_draws: draws per (d, n) below which a Monte Carlo row does not decide.
        value_tol: absolute tolerance on basin values (QP vs criterion, Bas <= alpha).
    """

    dims: tuple[int, ...] = (10, 50, 100)
    points_per_dim: int = 2
    widths: tuple[int, ...] = (4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    draws: int = 10_000
    init: str = "gaussian"
    qp_draws: int = 30
    qp_widths: tuple[int, ...] = (2, 6, 12)
    confidence: float = CONFIDENCE
    min_draws: int = 20
    value_tol: float = 1e-7
    QUICK = {"dims": (10,), "widths": (4, 8, 12, 16, 24), "draws": 3000, "qp_draws": 8,
             "qp_widths": (3, 8)}
    LIMITS: ClassVar[dict[str, str]] = {
        "dims": "nonempty, >= 1", "points_per_dim": ">= 1", "widths": "nonempty, >= 1",
        "draws": ">= 1", "init": "one of gaussian|sphere", "qp_draws": ">= 1",
        "qp_widths": "nonempty, >= 1", "confidence": "> 0, < 1", "min_draws": ">= 1", "value_tol": ">= 0"}


def measure(p: SingletonParams) -> Measurement:
    """Monte Carlo, exact and bound probabilities per (d, n); the QP cross-validation in the summary.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    rows, hist = [], {}
    rng = check_rng(p.seed)
    tol = BasinTolerances()
    xval = {"agree": 0, "total": 0, "max_value_diff": 0.0, "statuses": set()}
    for d in progress(p.dims, "dimensions"):
        ds = data.singleton(p.points_per_dim * d, d, seed=int(rng.integers(2 ** 31)))
        X, y = ds.X.numpy(), ds.y.numpy()
        q = initial_basin_quality(X, y, p.widths, p.draws, p.init, rng, method="singleton",
                                  rel_tol=p.value_tol)
        table = q.table.assign(d=d, m=len(X), singletons=int(((X != 0).sum(axis=1) == 1).sum()))
        rows.append(table)
        hist[f"d={d}, n={p.widths[0]}"] = q.values[p.widths[0]]
        crit = SingletonCriterion(X, y)
        cv = _cross_validate(X, y, crit, "singleton", p.qp_widths, p.qp_draws, rng, tol, p.value_tol)
        for key in ("agree", "total"):
            xval[key] += cv[key]
        xval["max_value_diff"] = max(xval["max_value_diff"], cv["max_value_diff"])
        xval["statuses"] |= set(cv["statuses"])
    table = pd.concat(rows, ignore_index=True)
    return Measurement(table, {"qp_cross_validation": {**xval, "statuses": sorted(xval["statuses"])}},
                       extras={"hist": hist})


def judge(m: Measurement, p: SingletonParams) -> Verdict:
    """Singleton data per d; Monte Carlo against the bound and the exact probability (exact
    intervals); the QP cross-validation.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table, xval = m.table, m.summary["qp_cross_validation"]
    verdict = Verdict()
    single = (table["singletons"] == table["m"]).to_numpy()
    verdict.hypothesis("every x_t is a singleton (SS-T2)", f"{int(single.sum())} of {len(table)} (d, n) rows",
                       "every row", bool(single.any()))
    ok = table[single]
    names = [("Monte Carlo >= 1 - 2d(3/4)^n (every d, n)", ">= 1 - 2d(3/4)^n"),
             ("Monte Carlo = exact probability (every d, n)", "= exact"),
             ("sign criterion == exact QP basin value (draws agreeing on Bas <= alpha)", xval["total"]),
             ("QP basin values equal the criterion's closed form", 0.0)]
    if ok.empty:
        for name, expected in names:
            verdict.not_covered(name, expected, "no dimension has singleton data")
        return verdict
    rows = [(f"d={int(r.d)}, n={int(r.width)}", round(r.estimate * r.draws), int(r.draws)) for r in ok.itertuples()]
    proportion_rows(verdict, names[0][0], [(*row, b) for row, b in zip(rows, ok["bound"], strict=True)],
                    word="at_least", expected=names[0][1], confidence=p.confidence, min_draws=p.min_draws)
    proportion_rows(verdict, names[1][0], [(*row, e) for row, e in zip(rows, ok["exact"], strict=True)],
                    word="equals", expected=names[1][1], confidence=p.confidence, min_draws=p.min_draws,
                    note="exact probability derived from the sign criterion (separate code)")
    verdict.add(names[2][0], xval["agree"], xval["total"], p.value_tol, xval["agree"] == xval["total"],
                note=f"max |QP - criterion| = {xval['max_value_diff']:.2e}; QP statuses "
                     f"{sorted(xval['statuses'])}", kind="evidence")
    verdict.add(names[3][0], xval["max_value_diff"], 0.0, p.value_tol, xval["max_value_diff"] <= p.value_tol,
                kind="evidence")
    exact_ge = bool((ok["exact"] >= ok["bound"] - 1e-12).all())
    verdict.add("exact probability >= the bound (every d, n)", exact_ge, True, None, exact_ge,
                kind="consistency")
    return verdict


def draw(m: Measurement, p: SingletonParams) -> dict:
    """The probabilities against width; the basin values of random inits.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``probability``.
    """
    return {"probability": _probability_figure(m.table, "d", "SS-T2 singleton data", exact=True),
            "basin_values": _histogram_figure(m.extras["hist"], "Basin values of random inits (singleton)")}


safran_shamir_singleton = experiment(
    "safran-shamir-singleton", source=SOURCE_003 + ", Theorem 2 (singleton data)",
    claim="SS-T2: P[Bas(W,v) <= alpha] >= 1 - 2d(3/4)^n on singleton data; Monte Carlo "
          "matches the exact probability from the sign criterion",
    params=SingletonParams, judge=judge, draw=draw)(measure)
