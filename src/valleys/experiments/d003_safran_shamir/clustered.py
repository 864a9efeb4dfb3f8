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

Targets are Lipschitz inside a cluster but *not* affine in the offset,
``y_t = yhat_j + gamma |<a_j, x_t - c_j>|`` (CLAIMS.md SS-T5: affine targets make Bas ∝ delta^2
a Taylor argument, not the theorem). SS-T5's assumptions are measured per delta on the
generated data (the angular bound delta_j/||c_j|| <= 2 sin(sqrt(2 pi)/(16 d sqrt d)), the
within-cluster Lipschitz ratio, a unique nearest centre); a delta that breaks one is *not
covered*. The constant K of "P[Bas <= K delta^2]" is fitted on the even-numbered draws and
the fraction is counted on the odd-numbered ones (held out), judged with exact intervals;
a negative bound 1 - d(7/8)^n is reported as vacuous.
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
from ...record.stats import CONFIDENCE, proportion_rows
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003


@dataclass(frozen=True)
class ClusteredParams(Params):
    """Parameters of ``safran-shamir-clustered``.

    CLAIMS.md SS-T5 suggests n in {8, ..., 64} and 500 draws; the full preset keeps d, k,
    the radii (1e-3, 3e-3, 9e-3: delta = 1e-2 breaks the angular bound 0.0099 at d = 10)
    and the 20 points per cluster, with widths up to 32 and 100 draws (each draw is 3 exact
    QPs with up to 32 x 10 variables and 5120 constraints).

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        dim: input dimension d.
        clusters: k <= d unit-norm centres (Gaussian directions: general position).
        per_cluster: points per cluster (m = k * per_cluster).
        deltas: cluster radii delta.
        lipschitz: within-cluster Lipschitz constant gamma of the targets.
        widths: hidden widths n.
        draws: Gaussian initialisations per width (the same draws for every delta).
        slope: the claimed log-log slope of Bas in delta (2: Bas = O(delta^2)).
        slope_tol: allowed |measured slope - slope| of the median good-draw basin value.
        k_slack: K = k_slack * max(Bas / delta^2) over the good *fitting* (even-numbered)
            draws at the largest covered delta; the odd-numbered draws are counted.
        confidence: overall coverage of the exact intervals of the probability checks.
        min_draws: held-out draws below which a probability check does not decide.
    """

    dim: int = 10
    clusters: int = 8
    per_cluster: int = 20
    deltas: tuple[float, ...] = (1e-3, 3e-3, 9e-3)
    lipschitz: float = 1.0
    widths: tuple[int, ...] = (8, 16, 32)
    draws: int = 100
    slope: float = 2.0
    slope_tol: float = 0.3
    k_slack: float = 1.5
    confidence: float = CONFIDENCE
    min_draws: int = 20
    QUICK = {"per_cluster": 8, "clusters": 3, "dim": 4, "widths": (16,), "draws": 48, "deltas": (1e-3, 1e-2)}
    LIMITS: ClassVar[dict[str, str]] = {
        "dim": ">= 1", "clusters": ">= 1", "per_cluster": ">= 1", "deltas": "nonempty, > 0",
        "lipschitz": ">= 0", "widths": "nonempty, >= 1", "draws": ">= 1", "slope": "> 0",
        "slope_tol": ">= 0", "k_slack": ">= 1", "confidence": "> 0, < 1", "min_draws": ">= 1"}


def _fit_slope(deltas: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of log(values) against log(deltas)."""
    return float(np.polyfit(np.log(deltas), np.log(values), 1)[0])


def angular_limit(d: int) -> float:
    r"""SS-T5's bound on \(\delta_j/\|c_j\|\), \(2\sin(\sqrt{2\pi}/(16d\sqrt d))\), from the theorem's text.

    Args:
        d: the input dimension.

    Returns:
        The bound (0.0099 at \(d = 10\)).
    """
    return 2.0 * math.sin(math.sqrt(2.0 * math.pi) / (16.0 * d * math.sqrt(d)))


def covered_deltas(table: pd.DataFrame, p: ClusteredParams) -> dict[str, np.ndarray]:
    r"""Per SS-T5 assumption, whether it holds at each radius \(\delta\) (sorted), from the table's columns.

    Args:
        table: the measurement's table (one row per radius, width and draw).
        p: the experiment's parameters.

    Returns:
        Assumption name -> boolean array over the sorted radii.
    """
    per = table.groupby("delta")[["radius_ratio", "lipschitz_ratio", "unique_centre"]].first().sort_index()
    return {"deltas": per.index.to_numpy(),
            "angular": per["radius_ratio"].to_numpy() <= angular_limit(p.dim),
            "lipschitz": per["lipschitz_ratio"].to_numpy() <= p.lipschitz * (1.0 + 1e-12),
            "unique": per["unique_centre"].astype(bool).to_numpy()}


def _slopes_and_fractions(table: pd.DataFrame, p: ClusteredParams,
                          deltas: tuple[float, ...] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per width: the log-log slopes of the good draws' Bas against delta; per (width, delta):
    the fraction of the held-out (odd) draws with Bas <= K delta^2, K fitted on the even
    draws at the largest delta, and the bounds (computed from the table alone, over
    ``deltas``, by default all)."""
    deltas = tuple(sorted(p.deltas if deltas is None else deltas))
    table = table[table["delta"].isin(deltas)]
    slopes, fractions = [], []
    if not deltas:
        return pd.DataFrame(slopes), pd.DataFrame(fractions)
    d_max = deltas[-1]
    for n, sub in table.groupby("width"):
        g = sub[sub["good"]]
        fit = g[(g["draw"] % 2 == 0) & (g["delta"] == d_max)]
        K = p.k_slack * float(fit["bas_over_delta2"].max()) if len(fit) else math.nan
        held_out = sub[sub["draw"] % 2 == 1]
        if g.empty or len(deltas) < 2:
            slopes.append({"width": n, "slope": math.nan, "good_draws": int(g["draw"].nunique()),
                           "median_slope_per_draw": math.nan})
        else:
            med = g.groupby("delta")["bas"].median()
            per_draw = g.pivot(index="draw", columns="delta", values="bas")
            per_draw = per_draw[(per_draw > 0).all(axis=1)]
            draw_slopes = [_fit_slope(np.array(deltas), row.to_numpy()) for _, row in per_draw.iterrows()]
            slope = _fit_slope(med.index.to_numpy(), med.to_numpy()) if (med > 0).all() else math.nan
            slopes.append({"width": n, "slope": slope, "good_draws": int(g["draw"].nunique()),
                           "median_slope_per_draw": float(np.median(draw_slopes)) if draw_slopes else math.nan})
        for delta in deltas:
            s = held_out[held_out["delta"] == delta]
            hits = int((s["bas"] <= K * delta ** 2).sum()) if math.isfinite(K) else 0
            est = hits / len(s) if len(s) else math.nan
            low, high = clopper_pearson(hits, len(s)) if len(s) else (math.nan, math.nan)
            fractions.append({"width": n, "delta": delta, "K": K, "fit_draws": len(fit), "hits": hits,
                              "draws": len(s), "estimate": est, "ci_low": low, "ci_high": high,
                              "good": int(sub[sub["delta"] == delta]["good"].sum()),
                              "all_draws": int((sub["delta"] == delta).sum()),
                              "bound": 1.0 - p.dim * (7.0 / 8.0) ** n,
                              "bound_t4_centres": 1.0 - p.clusters * 0.75 ** n})
    return pd.DataFrame(slopes), pd.DataFrame(fractions)


def _folded_targets(X: np.ndarray, meta: dict, lipschitz: float) -> np.ndarray:
    """``yhat_j + gamma |<a_j, x_t - c_j>|``: Lipschitz (gamma) inside cluster j, not affine in the offset."""
    C, A = meta["centers"].numpy(), meta["directions"].numpy()
    j = meta["assignment"].numpy()
    return meta["cluster_targets"].numpy()[j] + lipschitz * np.abs(((X - C[j]) * A[j]).sum(axis=1))


def _assumption_columns(X: np.ndarray, y: np.ndarray, C: np.ndarray, assign: np.ndarray) -> dict:
    """SS-T5's data assumptions measured directly: max_j delta_j / ||c_j||, the largest
    within-cluster ratio |y_t - y_t'| / ||x_t - x_t'||, and whether every point's nearest
    centre is its own."""
    radius = np.linalg.norm(X - C[assign], axis=1)
    ratio = max(float(radius[assign == j].max()) / float(np.linalg.norm(C[j])) for j in np.unique(assign))
    lip = 0.0
    for j in np.unique(assign):
        Xj, yj = X[assign == j], y[assign == j]
        dx = np.linalg.norm(Xj[:, None] - Xj[None], axis=-1)
        off = dx > 0
        if off.any():
            lip = max(lip, float((np.abs(yj[:, None] - yj[None])[off] / dx[off]).max()))
    nearest = np.argmin(np.linalg.norm(X[:, None] - C[None], axis=-1), axis=1)
    return {"radius_ratio": ratio, "lipschitz_ratio": lip, "unique_centre": bool((nearest == assign).all())}


def measure(p: ClusteredParams) -> Measurement:
    """Exact basin values of the same draws on the data at every delta; slopes, fractions and the
    assumption checker against a direct computation in the summary.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    rows = []
    rng = check_rng(p.seed)
    data_seed = int(rng.integers(2 ** 31))
    deltas = tuple(sorted(p.deltas))
    sets, reports = {}, {}
    for delta in deltas:
        ds = data.clustered(p.clusters * p.per_cluster, p.dim, p.clusters, delta, seed=data_seed,
                            lipschitz=p.lipschitz)
        y_folded = _folded_targets(ds.X.numpy(), ds.meta, p.lipschitz)
        sets[delta] = (ds.X.numpy(), y_folded)
        reports[delta] = data_assumptions(ds.X.numpy(), y_folded, centers=ds.meta["centers"].numpy())
    meta = ds.meta
    C, y_hat = meta["centers"].numpy(), meta["cluster_targets"].numpy()
    assign = meta["assignment"].numpy()
    centre_crit = FullRankCriterion(C, y_hat)  # SS-T4 on the k centres: Bas(centres) = 0 or not
    solvers = {delta: BasinSolver(*sets[delta]) for delta in deltas}
    assumed = {delta: _assumption_columns(*sets[delta], C, assign) for delta in deltas}
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
                             "status": res.status, **assumed[delta]})
    table = pd.DataFrame(rows)
    slope_table, frac = _slopes_and_fractions(table, p)
    assumption_rows = pd.concat([reports[dl].to_frame().assign(delta=dl) for dl in deltas], ignore_index=True)
    return Measurement(table, {
        "slopes": slope_table.to_dict(orient="records"), "fractions": frac.to_dict(orient="records"),
        "assumptions": assumption_rows.to_dict(orient="records"), "angular_bound": angular_bound(p.dim),
        "rank_gap_ratios": {f"{dl:g}": {name: r.gap_ratio for name, r in reports[dl].ranks.items()} for dl in deltas},
        "statuses": sorted(statuses),
        "ss_t5_holds_for_deltas": [f"{dl:g}" for dl in deltas if reports[dl].holds("SS-T5")]})


def judge(m: Measurement, p: ClusteredParams) -> Verdict:
    """SS-T5's assumptions per delta; on the covered deltas, slope 2 of the good draws' Bas and
    the held-out fraction with Bas <= K delta^2 against 1 - d(7/8)^n (exact intervals).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table, s = m.table, m.summary
    verdict = Verdict()
    hyp = covered_deltas(table, p)
    radii = hyp["deltas"]
    names = {"angular": f"delta_j/||c_j|| <= 2 sin(sqrt(2 pi)/(16 d sqrt d)) = {angular_limit(p.dim):.4g}",
             "lipschitz": f"|y_t - y_t'| <= gamma ||x_t - x_t'|| within a cluster (gamma = {p.lipschitz:g})",
             "unique": "every point nearest its own centre (unique c_j)"}
    for key, name in names.items():
        bad = [f"{dl:g}" for dl, ok in zip(radii, hyp[key], strict=True) if not ok]
        verdict.hypothesis(name, f"{int(hyp[key].sum())} of {len(radii)} radii", "every delta",
                           bool(hyp[key].any()),
                           note=f"measured on the generated data; not covered: delta in {bad}" if bad else
                           "measured on the generated data")
    covered = tuple(float(dl) for dl, a, b, c in zip(radii, hyp["angular"], hyp["lipschitz"], hyp["unique"],
                                                     strict=True) if a and b and c)
    slope_name = "log-log slope of the median good-draw Bas against delta (each width)"
    frac_name = "held-out P[Bas <= K delta^2] >= 1 - d(7/8)^n (K fitted on other draws; every n, covered delta)"
    if len(covered) < 2:
        verdict.not_covered(slope_name, p.slope, f"{len(covered)} radius(es) meet SS-T5's assumptions; a slope "
                                                 "needs two")
    if not covered:
        verdict.not_covered(frac_name, ">= 1 - d(7/8)^n", "no radius meets SS-T5's assumptions")
    else:
        slope_table, frac = _slopes_and_fractions(table, p, covered)
        if len(covered) >= 2:
            measured = [round(x, 3) for x in slope_table["slope"]]
            ok_slope = bool(len(slope_table)) and bool(((slope_table["slope"] - p.slope).abs() <= p.slope_tol).all())
            verdict.add(slope_name, measured, p.slope, p.slope_tol, ok_slope,
                        note=f"covered radii {list(covered)}; good = the signs fit the {p.clusters} centres exactly "
                             f"(SS-T4 criterion); targets not affine in the offset; median per-draw slopes "
                             f"{[round(x, 3) for x in slope_table['median_slope_per_draw']]}", kind="evidence")
        rows = [(f"n={int(r.width)}, delta={r.delta:g}", r.hits, r.draws, r.bound) for r in frac.itertuples()]
        proportion_rows(verdict, frac_name, rows, word="at_least", expected=">= 1 - d(7/8)^n",
                        confidence=p.confidence, min_draws=p.min_draws,
                        note=f"K = {p.k_slack:g} x max Bas/delta^2 over the good even-numbered draws at delta = "
                             f"{max(covered):g}; counted on the odd-numbered draws "
                             f"(K: {sorted({round(float(k), 4) for k in frac['K']})})")
        good = frac.drop_duplicates("width")
        proportion_rows(verdict, "P[good] (centres fitted exactly) >= 1 - k(3/4)^n (SS-T4 on the centres)",
                        [(f"n={int(r.width)}", r.good, r.all_draws, r.bound_t4_centres) for r in good.itertuples()],
                        word="at_least", expected=">= 1 - k(3/4)^n", confidence=p.confidence,
                        min_draws=p.min_draws, kind="consistency",
                        note="SS-T4 on the k centres, the event the slope check conditions on (tested as a theorem "
                             "by safran-shamir-full-rank)")
    statuses = s["statuses"]
    verdict.add("every basin value KKT-certified", statuses, ["optimal"], None, set(statuses) == {"optimal"},
                kind="consistency")
    return verdict


def draw(m: Measurement, p: ClusteredParams) -> dict:
    """Median Bas of good draws against delta (slope 2 reference); histograms of Bas / delta^2.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``scaling``, ``basin_values``.
    """
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
