"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-full-rank``: SS-T4, rank X = m; Monte Carlo against 1 - m(3/4)^n.

The rank of each X is measured (rows with rank X < m, from ``rank_deficit > 0``, are not
covered: SS-T4 and its sign criterion do not apply there); the Monte Carlo is judged with
exact (Clopper–Pearson) intervals, Bonferroni-corrected over the (m, n) rows, with a minimum
number of draws; a negative bound is reported as vacuous.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins import BasinTolerances, FullRankCriterion, initial_basin_quality
from ...curvature import matrix_rank
from ...errors import InvalidParameterError
from ...record import Measurement
from ...record.stats import CONFIDENCE, proportion_rows
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
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        samples: numbers of samples m (d = m + extra_dims, Gaussian X, N(0, 1) targets).
        extra_dims: d - m.
        rank_deficit: rank X = m - rank_deficit (0: SS-T4's hypothesis; > 0 is outside it and
            reported not covered).
        widths: hidden widths n.
        draws: Monte Carlo initialisations per (m, n).
        init: ``gaussian`` or ``sphere``.
        qp_draws: draws of the QP cross-validation subsample.
        qp_widths: widths of the QP cross-validation subsample.
        confidence: overall coverage of the exact intervals of the Monte Carlo check.
        min_draws: draws per (m, n) below which a row does not decide.
        value_tol: absolute tolerance on basin values.
    """

    samples: tuple[int, ...] = (5, 20, 50)
    extra_dims: int = 5
    rank_deficit: int = 0
    widths: tuple[int, ...] = (2, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    draws: int = 10_000
    init: str = "gaussian"
    qp_draws: int = 30
    qp_widths: tuple[int, ...] = (2, 8, 16)
    confidence: float = CONFIDENCE
    min_draws: int = 20
    value_tol: float = 1e-7
    QUICK = {"samples": (5, 20), "widths": (2, 4, 8, 16, 24), "draws": 3000, "qp_draws": 8,
             "qp_widths": (2, 8)}
    LIMITS: ClassVar[dict[str, str]] = {
        "samples": "nonempty, >= 1", "extra_dims": ">= 0", "rank_deficit": ">= 0", "widths": "nonempty, >= 1",
        "draws": ">= 1",
        "init": "one of gaussian|sphere", "qp_draws": ">= 1", "qp_widths": "nonempty, >= 1",
        "confidence": "> 0, < 1", "min_draws": ">= 1", "value_tol": ">= 0"}

    def validate(self) -> None:
        """rank X = m - rank_deficit must be at least 1 for every m.

        Raises:
            InvalidParameterError: ``rank_deficit`` is at least the smallest sample count.
        """
        if self.rank_deficit >= min(self.samples):
            msg = (f"{self._owner()} rank_deficit {self.rank_deficit} leaves no rank for m = {min(self.samples)}; "
                   f"use rank_deficit < {min(self.samples)}.")
            raise InvalidParameterError(msg)


def measure(p: FullRankParams) -> Measurement:
    """Monte Carlo and bound per (m, n); the QP cross-validation in the summary.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    rows, hist = [], {}
    rng = check_rng(p.seed)
    tol = BasinTolerances()
    agree = total = 0
    worst = 0.0
    for m in progress(p.samples, "sample sizes"):
        ds = data.full_rank(m, m + p.extra_dims, m - p.rank_deficit, seed=int(rng.integers(2 ** 31)))
        X, y = ds.X.numpy(), ds.y.numpy()
        rank = int(matrix_rank(X, warn=False).count)
        if rank < m:  # outside SS-T4: no sign criterion; recorded as not covered
            rows.append(pd.DataFrame({"width": list(p.widths), "draws": 0, "hits": 0, "estimate": math.nan,
                                      "bound": [1.0 - m * 0.75 ** n for n in p.widths]}).assign(
                m=m, d=X.shape[1], rank=rank))
            continue
        q = initial_basin_quality(X, y, p.widths, p.draws, p.init, rng, method="full_rank",
                                  rel_tol=p.value_tol)
        rows.append(q.table.assign(m=m, d=X.shape[1], rank=rank))
        hist[f"m={m}, n={p.widths[0]}"] = q.values[p.widths[0]]
        cv = _cross_validate(X, y, FullRankCriterion(X, y), "full_rank", p.qp_widths, p.qp_draws, rng,
                             tol, p.value_tol)
        agree, total = agree + cv["agree"], total + cv["total"]
        worst = max(worst, cv["max_value_diff"])
    table = pd.concat(rows, ignore_index=True)
    return Measurement(table, {"qp_max_value_diff": worst, "qp_agree": agree, "qp_total": total},
                       extras={"hist": hist})


def judge(m: Measurement, p: FullRankParams) -> Verdict:
    """rank X = m per row; Monte Carlo against the bound (exact intervals); the QP cross-validation.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table, s = m.table, m.summary
    verdict = Verdict()
    full = (table["rank"] == table["m"]).to_numpy()
    verdict.hypothesis("rank X = m (SS-T4)", f"{int(full.sum())} of {len(table)} (m, n) rows", "every row",
                       bool(full.any()), note="rank measured by SVD on the generated X")
    ok = table[full]
    names = [("Monte Carlo >= 1 - m(3/4)^n (every m, n)", ">= 1 - m(3/4)^n"),
             ("sign criterion == exact QP basin value (draws agreeing on Bas <= alpha)", s["qp_total"]),
             ("QP basin values equal the criterion's closed form", 0.0)]
    if ok.empty:
        for name, expected in names:
            verdict.not_covered(name, expected, "no X has rank m")
        return verdict
    proportion_rows(verdict, names[0][0],
                    [(f"m={int(r.m)}, n={int(r.width)}", round(r.estimate * r.draws), int(r.draws), r.bound)
                     for r in ok.itertuples()],
                    word="at_least", expected=names[0][1], confidence=p.confidence, min_draws=p.min_draws)
    verdict.add(names[1][0], s["qp_agree"], s["qp_total"], p.value_tol, s["qp_agree"] == s["qp_total"],
                kind="evidence")
    worst = s["qp_max_value_diff"]
    verdict.add(names[2][0], worst, 0.0, p.value_tol, worst <= p.value_tol, kind="evidence")
    return verdict


def draw(m: Measurement, p: FullRankParams) -> dict:
    """The probabilities against width; the basin values of random inits.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``probability``.
    """
    return {"probability": _probability_figure(m.table, "m", "SS-T4 full-rank data"),
            "basin_values": _histogram_figure(m.extras["hist"], "Basin values of random inits (full rank)")}


safran_shamir_full_rank = experiment(
    "safran-shamir-full-rank", source=SOURCE_003 + ", Theorem 4 (rank X = m)",
    claim="SS-T4: P[Bas(W,v) <= alpha] >= 1 - m(3/4)^n when rank X = m; the sign "
          "criterion agrees with exact basin values",
    params=FullRankParams, judge=judge, draw=draw)(measure)
