"""Document 003 (Safran & Shamir), Theorem 5: clustered data, basin values of order delta^2.

- ``safran-shamir-clustered``: k <= d tight clusters of radius delta about unit centres
  in general position, targets Lipschitz inside a cluster. The same initialisations are
  evaluated on the same data scaled in its offsets (one seed: the points are
  ``c_j + delta e_t`` with the same ``e_t`` for every delta), so that Bas(delta) of one
  draw is followed as delta shrinks.

Basin values are exact and KKT-certified (:class:`~valleys.basins.BasinSolver`; tight
clusters make the data nearly rank-deficient and the constraint rows of a cluster nearly
parallel, so the interior-point route proposes the active set). A draw is *good* when its
signs make the basin of the k cluster centres (with the cluster targets) reach 0: the
exact full-rank sign criterion of SS-T4 on the centres, computed independently of the
QPs on the clustered data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins import BasinSolver, FullRankCriterion, basin_of, draw_init
from ...basins.assumptions import angular_bound, data_assumptions
from ...basins.montecarlo import clopper_pearson
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003


@dataclass(frozen=True)
class ClusteredParams(Params):
    """Parameters of ``safran-shamir-clustered``.

    CLAIMS.md SS-T5 suggests n in {8, ..., 64} and 500 draws; the full preset keeps d, k,
    the radii and the 20 points per cluster, with widths up to 32 and 100 draws (each draw
    is 3 exact QPs with up to 32 x 10 variables and 5120 constraints).

    Attributes:
        dim: input dimension d.
        clusters: k <= d unit-norm centres (Gaussian directions: general position).
        per_cluster: points per cluster (m = k * per_cluster).
        deltas: cluster radii delta.
        lipschitz: within-cluster Lipschitz constant gamma of the targets.
        widths: hidden widths n.
        draws: Gaussian initialisations per width (the same draws for every delta).
        slope: the claimed log-log slope of Bas in delta (2: Bas = O(delta^2)).
        slope_tol: allowed |measured slope - slope| of the median good-draw basin value.
        z: standard errors allowed below the bound 1 - d(7/8)^n.
        k_slack: K = k_slack * max(Bas / delta^2) over good draws at the largest delta.
    """

    dim: int = 10
    clusters: int = 8
    per_cluster: int = 20
    deltas: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    lipschitz: float = 1.0
    widths: tuple[int, ...] = (8, 16, 32)
    draws: int = 100
    slope: float = 2.0
    slope_tol: float = 0.3
    z: float = 3.0
    k_slack: float = 1.5
    QUICK = {"per_cluster": 8, "clusters": 3, "dim": 4, "widths": (12,), "draws": 8, "deltas": (1e-3, 1e-2)}
    LIMITS: ClassVar[dict[str, str]] = {
        "dim": ">= 1", "clusters": ">= 1", "per_cluster": ">= 1", "deltas": "nonempty, > 0",
        "lipschitz": ">= 0", "widths": "nonempty, >= 1", "draws": ">= 1", "slope": "> 0",
        "slope_tol": ">= 0", "z": "> 0", "k_slack": ">= 1"}


def _fit_slope(deltas: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of log(values) against log(deltas)."""
    return float(np.polyfit(np.log(deltas), np.log(values), 1)[0])


def _slopes_and_fractions(table: pd.DataFrame, p: ClusteredParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per width: the log-log slopes of the good draws' Bas against delta; per (width, delta):
    the fraction with Bas <= K delta^2 and the bounds (computed from the table alone)."""
    deltas = tuple(sorted(p.deltas))
    d_max = deltas[-1]
    slopes, fractions = [], []
    for n, sub in table.groupby("width"):
        g = sub[sub["good"]]
        if g.empty:
            slopes.append({"width": n, "slope": math.nan, "good_draws": 0, "median_slope_per_draw": math.nan})
            continue
        med = g.groupby("delta")["bas"].median()
        per_draw = g.pivot(index="draw", columns="delta", values="bas")
        per_draw = per_draw[(per_draw > 0).all(axis=1)]
        draw_slopes = [_fit_slope(np.array(deltas), row.to_numpy()) for _, row in per_draw.iterrows()]
        slope = _fit_slope(med.index.to_numpy(), med.to_numpy()) if (med > 0).all() else math.nan
        slopes.append({"width": n, "slope": slope, "good_draws": int(g["draw"].nunique()),
                       "median_slope_per_draw": float(np.median(draw_slopes)) if draw_slopes else math.nan})
        K = p.k_slack * float(g[g["delta"] == d_max]["bas_over_delta2"].max())
        for delta in deltas:
            s = sub[sub["delta"] == delta]
            hits = int((s["bas"] <= K * delta ** 2).sum())
            est = hits / len(s)
            low, high = clopper_pearson(hits, len(s))
            fractions.append({"width": n, "delta": delta, "K": K, "hits": hits, "draws": len(s),
                              "estimate": est, "ci_low": low, "ci_high": high,
                              "se": math.sqrt(est * (1 - est) / len(s)),
                              "good_fraction": float(s["good"].mean()),
                              "bound": 1.0 - p.dim * (7.0 / 8.0) ** n,
                              "bound_t4_centres": 1.0 - p.clusters * 0.75 ** n})
    return pd.DataFrame(slopes), pd.DataFrame(fractions)


def measure(p: ClusteredParams) -> Measurement:
    """Exact basin values of the same draws on the data at every delta; slopes, fractions and the
    assumption checker against a direct computation in the summary."""
    rows = []
    rng = check_rng(p.seed)
    data_seed = int(rng.integers(2 ** 31))
    deltas = tuple(sorted(p.deltas))
    sets, reports = {}, {}
    for delta in deltas:
        ds = data.clustered(p.clusters * p.per_cluster, p.dim, p.clusters, delta, seed=data_seed,
                            lipschitz=p.lipschitz)
        sets[delta] = (ds.X.numpy(), ds.y.numpy())
        reports[delta] = data_assumptions(ds.X.numpy(), ds.y.numpy(), centers=ds.meta["centers"].numpy())
    meta = ds.meta
    C, y_hat = meta["centers"].numpy(), meta["cluster_targets"].numpy()
    assign = meta["assignment"].numpy()
    centre_crit = FullRankCriterion(C, y_hat)  # SS-T4 on the k centres: Bas(centres) = 0 or not
    solvers = {delta: BasinSolver(*sets[delta]) for delta in deltas}
    statuses: set[str] = set()
    for n in progress(p.widths, "widths"):
        W, v = draw_init(p.draws, n, p.dim, "gaussian", rng)
        good = centre_crit.values(np.sign(W @ C.T), np.sign(v)) <= 0.0
        for delta in deltas:
            X, _ = sets[delta]
            for i in range(p.draws):
                res = solvers[delta].value(basin_of(W[i], v[i], X), check_empty=False)
                statuses.add(res.status)
                rows.append({"width": n, "delta": delta, "draw": i, "bas": float(res.value),
                             "bas_over_delta2": float(res.value) / delta ** 2, "good": bool(good[i]),
                             "status": res.status})
    table = pd.DataFrame(rows)
    slope_table, frac = _slopes_and_fractions(table, p)
    # the assumption checker against a direct computation of SS-T5's angular condition
    angle = angular_bound(p.dim)
    holds, direct = {}, {}
    for delta in deltas:
        X, _ = sets[delta]
        radius = float(np.linalg.norm(X - C[assign], axis=1).max())
        direct[f"{delta:g}"] = radius / float(np.linalg.norm(C, axis=1).min()) <= angle
        rep = reports[delta].to_frame()
        row = rep[rep["assumption"] == "max delta_j / ||c_j||"]
        holds[f"{delta:g}"] = bool(row["holds"].iloc[0])
    assumption_rows = pd.concat([reports[dl].to_frame().assign(delta=dl) for dl in deltas], ignore_index=True)
    return Measurement(table, {
        "slopes": slope_table.to_dict(orient="records"), "fractions": frac.to_dict(orient="records"),
        "assumptions": assumption_rows.to_dict(orient="records"), "angular_bound": angle,
        "rank_gap_ratios": {f"{dl:g}": {name: r.gap_ratio for name, r in reports[dl].ranks.items()} for dl in deltas},
        "statuses": sorted(statuses), "angular_condition_checker": holds, "angular_condition_direct": direct,
        "ss_t5_holds_for_deltas": [f"{dl:g}" for dl in deltas if reports[dl].holds("SS-T5")]})


def judge(m: Measurement, p: ClusteredParams) -> Verdict:
    """Slope 2 of the good draws' Bas in delta and the probability bounds, recomputed from the table."""
    table, s = m.table, m.summary
    verdict = Verdict()
    slope_table, frac = _slopes_and_fractions(table, p)
    measured = [round(s, 3) for s in slope_table["slope"]]
    ok_slope = bool(len(slope_table)) and bool(((slope_table["slope"] - p.slope).abs() <= p.slope_tol).all())
    verdict.add("log-log slope of the median good-draw Bas against delta (each width)", measured, p.slope,
                p.slope_tol, ok_slope,
                note=f"good = the signs fit the {p.clusters} centres exactly (SS-T4 criterion); median per-draw "
                     f"slopes {[round(s, 3) for s in slope_table['median_slope_per_draw']]}", kind="evidence")
    gap = (frac["bound"] - p.z * frac["se"]) - frac["estimate"] if len(frac) else pd.Series([math.inf])
    verdict.add("P[Bas <= K delta^2] >= 1 - d(7/8)^n - z SE (K from the largest delta; every n, delta)",
                float(gap.max()), "<= 0", p.z, bool((gap <= 0).all()),
                note="measured: largest (bound - z SE) - estimate; Clopper-Pearson intervals in the table",
                kind="evidence")
    if len(frac):
        ggap = (frac["bound_t4_centres"] - p.z * np.sqrt(frac["good_fraction"] * (1 - frac["good_fraction"])
                                                          / frac["draws"])) - frac["good_fraction"]
        verdict.add("P[good] (centres fitted exactly) >= 1 - k(3/4)^n - z SE (SS-T4 on the centres)",
                    float(ggap.max()), "<= 0", p.z, bool((ggap <= 0).all()), kind="evidence")
    statuses = s["statuses"]
    verdict.add("every basin value KKT-certified", statuses, ["optimal"], None, set(statuses) == {"optimal"},
                kind="consistency")
    holds, direct = s["angular_condition_checker"], s["angular_condition_direct"]
    verdict.add("assumption checker: delta_j/||c_j|| <= 2 sin(sqrt(2 pi)/(16 d sqrt d)) per delta", holds, direct,
                None, holds == direct,
                note=f"bound {s['angular_bound']:.4g}; SS-T5 holds in full for delta in "
                     f"{s['ss_t5_holds_for_deltas']}", kind="consistency")
    return verdict


def draw(m: Measurement, p: ClusteredParams) -> dict:
    """Median Bas of good draws against delta (slope 2 reference); histograms of Bas / delta^2."""
    table = m.table
    deltas = tuple(sorted(p.deltas))
    d_max = deltas[-1]
    fig, (ax,) = figure(width=6)
    for n, sub in table[table["good"]].groupby("width"):
        med = sub.groupby("delta")["bas"].median()
        ax.plot(med.index, med.values, "o-", label=f"n={n} (median, good draws)")
    dd = np.array(deltas)
    if len(table[table["good"]]):
        ref = float(table[table["good"] & (table["delta"] == d_max)]["bas"].median())
        ax.plot(dd, ref * (dd / d_max) ** 2, "k--", lw=1, label="slope 2")
    ax.set(xscale="log", yscale="log", xlabel="cluster radius delta", ylabel="Bas(W0, v0)",
           title="SS-T5: basin values of good draws scale as delta^2")
    ax.legend(fontsize=6)
    fig2, (ax2,) = figure(width=6)
    for delta in deltas:
        vals = table[table["delta"] == delta]["bas_over_delta2"].to_numpy()
        ax2.hist(np.log10(np.maximum(vals, 1e-300)), bins=40, alpha=0.5, label=f"delta={delta:g}")
    ax2.set(xlabel="log10(Bas / delta^2)", ylabel="draws", title="Basin values / delta^2 (all widths)")
    ax2.legend(fontsize=6)
    return {"scaling": fig, "basin_values": fig2}


safran_shamir_clustered = experiment(
    "safran-shamir-clustered", source=SOURCE_003 + ", Theorem 5 (clustered data)",
    claim="SS-T5: on k <= d tight clusters of radius delta, good initial basins have "
          "Bas = O(delta^2) (log-log slope 2), P[Bas <= K delta^2] >= 1 - d(7/8)^n",
    params=ClusteredParams, judge=judge, draw=draw)(measure)
