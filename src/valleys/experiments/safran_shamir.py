"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

- ``safran-shamir-singleton``: SS-T2, singleton data; Monte Carlo, the exact probability
  derived from the sign criterion and the bound 1 - 2d(3/4)^n side by side.
- ``safran-shamir-full-rank``: SS-T4, rank X = m; Monte Carlo against 1 - m(3/4)^n.
- ``safran-shamir-low-rank``: SS-T3, a realizable rank-2 teacher at width c⌈n/p_eps⌉.
- ``safran-shamir-overspecification``: SS-L2, Bas(full) <= Bas(any subset of neurons).
- ``safran-shamir-auer``: one ReLU neuron (optimal basin w.p. 2^-d) against width n.
- ``safran-shamir-prop1``: SS-P1, P[L(W0) > L(0)] >= (1 - 2^-n) / 2.

Basin values are exact (:mod:`valleys.basins`): sign criteria where the document's data
families allow them, convex programs otherwise, and the two are cross-validated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from .. import data
from .._validation import check_rng
from ..basins import (
    BasinSolver,
    BasinTolerances,
    FullRankCriterion,
    SingletonCriterion,
    basin_of,
    draw_init,
    initial_basin_quality,
)
from ..basins.assumptions import data_assumptions
from ..basins.losses import ScalarLoss
from ..basins.montecarlo import clopper_pearson
from .common import figure, progress
from .params import Params
from .registry import experiment
from .result import Result, Verdict

SOURCE_003 = "003 Safran & Shamir, 'On the quality of the initial basin in overspecified neural networks'"


def _probability_figure(table: pd.DataFrame, group: str, title: str, *, exact: bool = False):
    """Probability vs width per group: Monte Carlo with its Clopper–Pearson band, the bound."""
    fig, (ax,) = figure(width=6)
    for key, sub in table.groupby(group):
        line, = ax.plot(sub["width"], sub["estimate"], "o-", ms=3, label=f"{group}={key}: Monte Carlo")
        ax.fill_between(sub["width"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.25)
        ax.plot(sub["width"], sub["bound"].clip(lower=0), "--", color=line.get_color(), label="bound")
        if exact and "exact" in sub:
            ax.plot(sub["width"], sub["exact"], ":", color="k", lw=1)
    ax.set(xlabel="width n", ylabel="P[Bas(W0, v0) <= alpha]", ylim=(-0.02, 1.02), title=title)
    ax.legend(fontsize=6)
    return fig


def _histogram_figure(values: dict, title: str, xlabel: str = "basin value"):
    fig, (ax,) = figure(width=6)
    for label, vals in values.items():
        ax.hist(np.asarray(vals), bins=40, alpha=0.5, label=str(label))
    ax.set(xlabel=xlabel, ylabel="draws", title=title)
    ax.legend(fontsize=6)
    return fig


def _cross_validate(X, y, crit, method: str, widths, draws: int, rng, tol: BasinTolerances,
                    value_tol: float) -> dict:
    """Exact QP basin values against the sign criterion on a subsample of draws."""
    solver = BasinSolver(X, y, tol=tol)
    d = X.shape[1]
    agree = total = 0
    worst, statuses = 0.0, set()
    for n in widths:
        W, v = draw_init(draws, n, d, "gaussian", rng)
        if method == "singleton":
            crit_vals = crit.values(np.sign(W), np.sign(v))
        else:
            crit_vals = crit.values(np.sign(W @ X.T), np.sign(v))
        alpha = crit.alpha(n)
        for i in range(draws):
            res = solver.value(basin_of(W[i], v[i], X), check_empty=False)
            statuses.add(res.status)
            worst = max(worst, abs(res.value - crit_vals[i]))
            agree += int((res.value <= alpha + value_tol) == (crit_vals[i] <= alpha + value_tol))
            total += 1
    return {"agree": agree, "total": total, "max_value_diff": worst, "statuses": sorted(statuses)}


# --------------------------------------------------------------------------- SS-T2 singleton
@dataclass(frozen=True)
class SingletonParams(Params):
    """Parameters of ``safran-shamir-singleton``.

    Attributes:
        dims: input dimensions d.
        points_per_dim: singleton points per coordinate (m = points_per_dim * d).
        widths: hidden widths n.
        draws: Monte Carlo initialisations per (d, n).
        init: ``gaussian`` or ``sphere`` (Assumption 1).
        qp_draws: draws per width whose exact QP basin value is compared with the criterion.
        qp_widths: widths of that comparison.
        z: standard errors allowed between Monte Carlo and the exact probability / bound.
        value_tol: absolute tolerance on basin values (QP vs criterion, Bas <= alpha).
    """

    dims: tuple[int, ...] = (10, 50, 100)
    points_per_dim: int = 2
    widths: tuple[int, ...] = (4, 8, 12, 16, 20, 24, 28, 32, 36, 40)
    draws: int = 10_000
    init: str = "gaussian"
    qp_draws: int = 30
    qp_widths: tuple[int, ...] = (2, 6, 12)
    z: float = 3.0
    value_tol: float = 1e-7
    QUICK = {"dims": (10,), "widths": (4, 8, 12, 16, 24), "draws": 3000, "qp_draws": 8,
             "qp_widths": (3, 8)}
    LIMITS: ClassVar[dict[str, str]] = {
        "dims": "nonempty, >= 1", "points_per_dim": ">= 1", "widths": "nonempty, >= 1",
        "draws": ">= 1", "init": "one of gaussian|sphere", "qp_draws": ">= 1",
        "qp_widths": "nonempty, >= 1", "z": "> 0", "value_tol": ">= 0"}


@experiment("safran-shamir-singleton", source=SOURCE_003 + ", Theorem 2 (singleton data)",
            claim="SS-T2: P[Bas(W,v) <= alpha] >= 1 - 2d(3/4)^n on singleton data; Monte Carlo "
                  "matches the exact probability from the sign criterion",
            params=SingletonParams)
def safran_shamir_singleton(p: SingletonParams) -> Result:
    verdict, rows, hist = Verdict(), [], {}
    rng = check_rng(p.seed)
    tol = BasinTolerances()
    xval = {"agree": 0, "total": 0, "max_value_diff": 0.0, "statuses": set()}
    for d in progress(p.dims, "dimensions"):
        ds = data.singleton(p.points_per_dim * d, d, seed=int(rng.integers(2 ** 31)))
        X, y = ds.X.numpy(), ds.y.numpy()
        q = initial_basin_quality(X, y, p.widths, p.draws, p.init, rng, method="singleton",
                                  rel_tol=p.value_tol)
        table = q.table.assign(d=d, m=len(X))
        rows.append(table)
        hist[f"d={d}, n={p.widths[0]}"] = q.values[p.widths[0]]
        crit = SingletonCriterion(X, y)
        cv = _cross_validate(X, y, crit, "singleton", p.qp_widths, p.qp_draws, rng, tol, p.value_tol)
        for key in ("agree", "total"):
            xval[key] += cv[key]
        xval["max_value_diff"] = max(xval["max_value_diff"], cv["max_value_diff"])
        xval["statuses"] |= set(cv["statuses"])
    table = pd.concat(rows, ignore_index=True)
    se_exact = np.sqrt(table["exact"] * (1 - table["exact"]) / table["draws"])
    gap_exact = (table["estimate"] - table["exact"]).abs() - p.z * se_exact
    gap_bound = (table["bound"] - p.z * table["se"]) - table["estimate"]
    verdict.add("Monte Carlo >= 1 - 2d(3/4)^n - z SE (every d, n)", float(gap_bound.max()), "<= 0", p.z,
                bool((gap_bound <= 0).all()), note="measured: largest (bound - z SE) - estimate",
                kind="evidence")
    verdict.add("|Monte Carlo - exact probability| <= z SE (every d, n)", float(gap_exact.max()), "<= 0",
                p.z, bool((gap_exact <= 0).all()),
                note="exact probability derived from the sign criterion; SE from the exact p",
                kind="evidence")
    verdict.add("sign criterion == exact QP basin value (draws agreeing on Bas <= alpha)",
                xval["agree"], xval["total"], p.value_tol, xval["agree"] == xval["total"],
                note=f"max |QP - criterion| = {xval['max_value_diff']:.2e}; QP statuses "
                     f"{sorted(xval['statuses'])}", kind="evidence")
    verdict.add("QP basin values equal the criterion's closed form", xval["max_value_diff"], 0.0,
                p.value_tol, xval["max_value_diff"] <= p.value_tol, kind="evidence")
    exact_ge = bool((table["exact"] >= table["bound"] - 1e-12).all())
    verdict.add("exact probability >= the bound (every d, n)", exact_ge, True, None, exact_ge,
                kind="consistency")
    figs = {"probability": _probability_figure(table, "d", "SS-T2 singleton data", exact=True),
            "basin_values": _histogram_figure(hist, "Basin values of random inits (singleton)")}
    return Result(table, verdict, figs, {"qp_cross_validation": {**xval, "statuses": sorted(xval["statuses"])}})


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


@experiment("safran-shamir-full-rank", source=SOURCE_003 + ", Theorem 4 (rank X = m)",
            claim="SS-T4: P[Bas(W,v) <= alpha] >= 1 - m(3/4)^n when rank X = m; the sign "
                  "criterion agrees with exact basin values",
            params=FullRankParams)
def safran_shamir_full_rank(p: FullRankParams) -> Result:
    verdict, rows, hist = Verdict(), [], {}
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
    gap = (table["bound"] - p.z * table["se"]) - table["estimate"]
    verdict.add("Monte Carlo >= 1 - m(3/4)^n - z SE (every m, n)", float(gap.max()), "<= 0", p.z,
                bool((gap <= 0).all()), note="measured: largest (bound - z SE) - estimate", kind="evidence")
    verdict.add("sign criterion == exact QP basin value (draws agreeing on Bas <= alpha)", agree, total,
                p.value_tol, agree == total, kind="evidence")
    verdict.add("QP basin values equal the criterion's closed form", worst, 0.0, p.value_tol,
                worst <= p.value_tol, kind="evidence")
    figs = {"probability": _probability_figure(table, "m", "SS-T4 full-rank data"),
            "basin_values": _histogram_figure(hist, "Basin values of random inits (full rank)")}
    return Result(table, verdict, figs, {"qp_max_value_diff": worst})


# --------------------------------------------------------------------------- SS-T3 low rank
def p_epsilon(eps: float, n: int, B: float, rank: int) -> float:
    """SS-T3's p_eps = (1 / (2 pi (r - 1))) ((sqrt(eps) / (n B)) sqrt(1 - eps / (4 n^2 B^2)))^(r - 1)."""
    base = math.sqrt(eps) / (n * B) * math.sqrt(1.0 - eps / (4.0 * n * n * B * B))
    return base ** (rank - 1) / (2.0 * math.pi * (rank - 1))


@dataclass(frozen=True)
class LowRankParams(Params):
    """Parameters of ``safran-shamir-low-rank``.

    Attributes:
        samples: m data points (||x_t|| <= 1) in a rank-2 subspace of R^dim.
        dim: input dimension d.
        teacher_width: n, ReLU units of the planted teacher (|v_i| ||w_i|| <= B = 1).
        eps: the basin-value threshold epsilon.
        c: the theorem's multiplier c >= 2 (width c ⌈n / p_eps⌉).
        draws: initialisations at the theorem's width.
        scan_widths: smaller widths scanned for the empirical width reaching the bound.
        scan_draws: draws per scanned width.
        z: standard errors allowed below the bound.
        zero_tol: the teacher's loss must be <= zero_tol (realizability).
    """

    samples: int = 30
    dim: int = 10
    teacher_width: int = 2
    eps: float = 0.01
    c: int = 2
    draws: int = 200
    scan_widths: tuple[int, ...] = (2, 4, 8, 16, 32)
    scan_draws: int = 100
    z: float = 3.0
    zero_tol: float = 1e-20
    QUICK = {"eps": 0.03, "draws": 3, "scan_widths": (4,), "scan_draws": 3}
    LIMITS: ClassVar[dict[str, str]] = {
        "samples": ">= 2", "dim": ">= 2", "teacher_width": ">= 1", "eps": "> 0", "c": ">= 2",
        "draws": ">= 1", "scan_widths": "nonempty, >= 1", "scan_draws": ">= 1", "z": "> 0",
        "zero_tol": ">= 0"}


@experiment("safran-shamir-low-rank", source=SOURCE_003 + ", Theorem 3 (low intrinsic dimension)",
            claim="SS-T3: realizable data of rank 2, width c⌈n/p_eps⌉ (504 for n = 2, B = 1, "
                  "eps = 0.01, c = 2): P[Bas <= eps] >= 1 - exp(-cn/4)",
            params=LowRankParams)
def safran_shamir_low_rank(p: LowRankParams) -> Result:
    verdict = Verdict()
    rng = check_rng(p.seed)
    ds = data.low_rank(p.samples, p.dim, 2, seed=int(rng.integers(2 ** 31)), targets="relu",
                       teacher_width=p.teacher_width, max_norm=1.0)
    X = ds.X.numpy()
    # the generator's teacher has unit w_i and v_i ~ U[-1, 1]; use v_i = sign(v_i) so that
    # |v_i| ||w_i|| = B = 1 exactly (the generator's small targets make Bas <= eps trivial)
    W1, v1 = ds.meta["W1"].numpy(), np.sign(ds.meta["W2"].numpy()[0])
    y = np.maximum(X @ W1.T, 0.0) @ v1
    teacher_loss = float(np.mean((np.maximum(X @ W1.T, 0.0) @ v1 - y) ** 2))
    B = float((np.abs(v1) * np.linalg.norm(W1, axis=1)).max())
    rank = int(np.linalg.matrix_rank(X))
    pe = p_epsilon(p.eps, p.teacher_width, 1.0, rank)
    width = p.c * math.ceil(p.teacher_width / pe)
    bound = 1.0 - math.exp(-p.c * p.teacher_width / 4.0)
    report = data_assumptions(X, y)
    verdict.add("data: ||x_t|| <= 1, rank X = 2, teacher realizes y with |v_i| ||w_i|| <= 1",
                [float(np.linalg.norm(X, axis=1).max()), rank, teacher_loss, B], "[<= 1, 2, 0, <= 1]",
                p.zero_tol, report.holds("SS-T3") and rank == 2 and teacher_loss <= p.zero_tol and B <= 1.0,
                kind="consistency")
    zero_loss = float(np.mean(y ** 2))
    verdict.add("the zero net is not already eps-good: L(0) = mean y^2 > eps", zero_loss, f"> {p.eps}", None,
                zero_loss > p.eps, kind="consistency")
    if p.teacher_width == 2 and p.c == 2 and p.eps == 0.01 and rank == 2:
        verdict.add("p_eps and width vs CLAIMS.md's derived numbers", [pe, width], [0.0079553, 504], 1e-7,
                    abs(pe - 0.0079553) <= 1e-7 and width == 504, kind="consistency")
    rows, hist = [], {}
    for n, draws in progress([(width, p.draws)] + [(w, p.scan_draws) for w in p.scan_widths], "widths"):
        q = initial_basin_quality(X, y, (n,), draws, "gaussian", rng, method="qp", threshold=p.eps)
        row = q.table.iloc[0].to_dict()
        row.update(bound=bound if n == width else math.nan, theorem_width=n == width)
        rows.append(row)
        hist[f"n={n}"] = q.values[n]
    table = pd.DataFrame(rows)
    main = table[table["theorem_width"]].iloc[0]
    verdict.add(f"fraction with Bas <= eps at width {width} >= 1 - exp(-cn/4) - z SE",
                float(main["estimate"]), f">= {bound:.4f}", p.z * float(main["se"]),
                main["estimate"] >= bound - p.z * main["se"],
                note=f"Clopper-Pearson 95%: [{main['ci_low']:.3f}, {main['ci_high']:.3f}]", kind="evidence")
    reach = table[(~table["theorem_width"]) & (table["ci_low"] >= bound)]
    empirical = int(reach["width"].min()) if len(reach) else None
    fig, (ax,) = figure(width=6)
    sub = table.sort_values("width")
    ax.plot(sub["width"], sub["estimate"], "o-", label="Monte Carlo P[Bas <= eps]")
    ax.fill_between(sub["width"], sub["ci_low"], sub["ci_high"], alpha=0.25)
    ax.axhline(bound, ls="--", color="k", label="bound 1 - exp(-cn/4)")
    ax.set(xscale="log", xlabel="width", ylabel="probability", ylim=(-0.02, 1.02),
           title=f"SS-T3 rank 2: theorem width {width}")
    ax.legend(fontsize=7)
    figs = {"probability": fig, "basin_values": _histogram_figure(hist, "Basin values (low rank)")}
    return Result(table, verdict, figs, {"p_eps": pe, "theorem_width": width, "bound": bound, "zero_loss": zero_loss,
                                         "empirical_width_reaching_bound": empirical,
                                         "teacher_loss": teacher_loss})


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


@experiment("safran-shamir-overspecification", source=SOURCE_003 + ", Lemma 2",
            claim="SS-L2: Bas(W, v) <= Bas(w_I, v_I) for every subset I of neurons (exact QP values)",
            params=OverspecParams)
def safran_shamir_overspecification(p: OverspecParams) -> Result:
    verdict, rows = Verdict(), []
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
    verdict.add("Bas(full) <= Bas(subset) + tol (every draw)", int((table["difference"] >= -p.tol).sum()),
                p.draws, p.tol, worst <= p.tol, note=f"max Bas(full) - Bas(subset) = {worst:.2e}",
                kind="evidence")
    verdict.add("every QP solved to optimality", sorted(statuses), ["optimal"], None,
                statuses == {"optimal"}, kind="consistency")
    fig, (ax,) = figure()
    ax.scatter(table["subset"], table["full"], s=4)
    lim = float(table[["full", "subset"]].max().max())
    ax.plot([0, lim], [0, lim], "k--", lw=1)
    ax.set(xlabel="Bas(subset of neurons)", ylabel="Bas(full net)", title="SS-L2: overspecification helps")
    return Result(table, verdict, {"monotonicity": fig,
                                   "basin_values": _histogram_figure({"full": table["full"],
                                                                      "subset": table["subset"]},
                                                                     "Basin values")},
                  {"max_full_minus_subset": worst})


# --------------------------------------------------------------------------- Auer
@dataclass(frozen=True)
class AuerParams(Params):
    """Parameters of ``safran-shamir-auer``.

    Attributes:
        dims: input dimensions d of the Auer-type set {(e_i, t_+), (-e_i, t_-)}.
        targets: (t_+, t_-), distinct and positive.
        widths: widths n of the overspecified net.
        draws: Monte Carlo draws per (d, n) and for the single neuron.
        z: standard errors allowed.
        value_tol: absolute tolerance on basin values.
    """

    dims: tuple[int, ...] = (4, 8, 12, 20)
    targets: tuple[float, ...] = (1.0, 2.0)
    widths: tuple[int, ...] = (2, 4, 8, 12, 16, 24, 32)
    draws: int = 100_000
    z: float = 3.0
    value_tol: float = 1e-9
    QUICK = {"dims": (4, 8), "widths": (2, 4, 8, 16), "draws": 4000}
    LIMITS: ClassVar[dict[str, str]] = {"dims": "nonempty, >= 1", "targets": "nonempty, > 0",
                                        "widths": "nonempty, >= 1", "draws": ">= 1", "z": "> 0",
                                        "value_tol": ">= 0"}


@experiment("safran-shamir-auer", source=SOURCE_003 + ", Section 4.1 (brittleness to overspecification)",
            claim="SS-T2 / SS-AppC: one ReLU neuron starts in the optimal basin w.p. 2^-d; width n "
                  "on the same data succeeds with the exact probability of the sign criterion",
            params=AuerParams)
def safran_shamir_auer(p: AuerParams) -> Result:
    verdict, rows, hist = Verdict(), [], {}
    rng = check_rng(p.seed)
    t_plus, t_minus = p.targets[0], p.targets[1]
    single_opt = min(t_plus, t_minus) ** 2 / 2.0  # per coordinate: fit one point, miss the other
    worst_single = 0.0
    for d in progress(p.dims, "dimensions"):
        ds = data.auer_singleton(d, targets=(t_plus, t_minus))
        X, y = ds.X.numpy(), ds.y.numpy()
        crit = SingletonCriterion(X, y)
        # one neuron [<w, x>]_+ without output weight: the width-1 net with v = +1
        W, _ = draw_init(p.draws, 1, d, "gaussian", rng)
        single = crit.values(np.sign(W), np.ones((p.draws, 1)))
        best_single = min(crit.values(np.array([[s]]), np.ones((1, 1)))[0]
                          for s in (np.full(d, 1.0), np.full(d, -1.0)))
        worst_single = max(worst_single, abs(best_single - single_opt))
        hits = int((single <= single_opt + p.value_tol).sum())
        est = hits / p.draws
        exact = 2.0 ** -d if t_plus != t_minus else 1.0
        low, high = clopper_pearson(hits, p.draws)
        rows.append({"d": d, "width": 1, "net": "single neuron", "estimate": est, "exact": exact,
                     "ci_low": low, "ci_high": high, "draws": p.draws,
                     "se_exact": math.sqrt(exact * (1 - exact) / p.draws), "bound": math.nan,
                     "alpha": single_opt})
        hist[f"single neuron, d={d}"] = single
        q = initial_basin_quality(X, y, p.widths, p.draws, "gaussian", rng, method="singleton",
                                  rel_tol=p.value_tol)
        for r in q.table.itertuples():
            rows.append({"d": d, "width": r.width, "net": "two-layer", "estimate": r.estimate, "exact": r.exact,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "draws": r.draws,
                         "se_exact": math.sqrt(r.exact * (1 - r.exact) / r.draws), "bound": r.bound,
                         "alpha": r.alpha})
    table = pd.DataFrame(rows)
    gap = (table["estimate"] - table["exact"]).abs() - p.z * table["se_exact"]
    one = table[table["net"] == "single neuron"]
    gap1 = (one["estimate"] - one["exact"]).abs() - p.z * one["se_exact"]
    verdict.add("single neuron: P[optimal basin] = 2^-d within z SE (every d)", float(gap1.max()), "<= 0",
                p.z, bool((gap1 <= 0).all()), note="measured: largest |MC - 2^-d| - z SE", kind="evidence")
    verdict.add("single-neuron optimum = min(t+, t-)^2 / 2 (closed form)", worst_single, 0.0, p.value_tol,
                worst_single <= p.value_tol, kind="evidence")
    two = table[table["net"] == "two-layer"]
    gap2 = (two["estimate"] - two["exact"]).abs() - p.z * two["se_exact"]
    verdict.add("width n: Monte Carlo = exact probability within z SE (every d, n)", float(gap2.max()), "<= 0",
                p.z, bool((gap2 <= 0).all()), kind="evidence")
    alpha_zero = bool((two["alpha"].abs() <= p.value_tol).all())
    verdict.add("width n >= 2 fits the data exactly (alpha = 0 < single-neuron optimum)", alpha_zero, True,
                p.value_tol, alpha_zero, kind="evidence")
    bgap = ((two["bound"] - p.z * np.sqrt(two["estimate"] * (1 - two["estimate"]) / two["draws"]))
            - two["estimate"])
    verdict.add("Monte Carlo >= 1 - 2d(3/4)^n - z SE", float(bgap.max()), "<= 0", p.z, bool((bgap <= 0).all()),
                kind="evidence")
    del gap
    fig, (ax,) = figure(width=6)
    for d, sub in two.groupby("d"):
        line, = ax.plot(sub["width"], sub["estimate"], "o-", ms=3, label=f"d={d} width n")
        ax.fill_between(sub["width"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.25)
        ax.plot(sub["width"], sub["exact"], ":", color="k", lw=1)
        ax.plot(sub["width"], sub["bound"].clip(lower=0), "--", color=line.get_color())
        ax.plot([1], [2.0 ** -d], "x", color=line.get_color(), ms=8)
    ax.set(xlabel="width n (x: single neuron, 2^-d)", ylabel="P[optimal basin]", ylim=(-0.02, 1.02),
           title="Auer-type data: brittleness to overspecification")
    ax.legend(fontsize=6)
    return Result(table, verdict, {"probability": fig,
                                   "basin_values": _histogram_figure(hist, "Single-neuron basin values")},
                  {"single_neuron_optimum": single_opt})


# --------------------------------------------------------------------------- SS-P1
@dataclass(frozen=True)
class Prop1Params(Params):
    """Parameters of ``safran-shamir-prop1``.

    Attributes:
        samples, dim: random data (Gaussian X, N(0, 1) targets) of m points in R^d.
        widths: widths of the last hidden layer n_{h-1}.
        depths: numbers of hidden layers (1: two-layer net; 2: one more ReLU layer of width ``dim``).
        losses: ``squared`` and/or ``logistic`` (labels sign(y)).
        draws: Gaussian initialisations per setting.
        tight_scale: init scale of the nearly tight setting (one data point, target 1).
        z: standard errors allowed.
    """

    samples: int = 20
    dim: int = 10
    widths: tuple[int, ...] = (1, 2, 5, 20)
    depths: tuple[int, ...] = (1, 2)
    losses: tuple[str, ...] = ("squared", "logistic")
    draws: int = 10_000
    tight_scale: float = 1e-4
    z: float = 3.0
    QUICK = {"draws": 3000, "depths": (1,)}
    LIMITS: ClassVar[dict[str, str]] = {"samples": ">= 1", "dim": ">= 1", "widths": "nonempty, >= 1",
                                        "depths": "nonempty, >= 1", "losses": "one of squared|logistic",
                                        "draws": ">= 1", "tight_scale": "> 0", "z": "> 0"}


def _predictions(X: np.ndarray, n: int, depth: int, draws: int, scale: float, rng) -> np.ndarray:
    """Outputs (draws, m) of random bias-free ReLU nets with last hidden width n (Gaussian init)."""
    H = np.broadcast_to(X, (draws, *X.shape))
    for _ in range(depth - 1):
        H = np.maximum(H @ (scale * rng.standard_normal((draws, X.shape[1], X.shape[1]))), 0.0)
    H = np.maximum(H @ (scale * rng.standard_normal((draws, H.shape[-1], n))), 0.0)
    return (H @ (scale * rng.standard_normal((draws, n, 1))))[..., 0]


def _loss(P: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """Mean loss per draw; the logistic loss takes the labels sign(y)."""
    return ScalarLoss(loss).value(P, y if loss == "squared" else np.sign(y)).mean(-1)


@experiment("safran-shamir-prop1", source=SOURCE_003 + ", Proposition 1",
            claim="SS-P1: P[L(P(W0)) > L(0)] >= (1 - 2^-n)/2 for squared and cross-entropy losses; "
                  "nearly tight for one data point at small init scale",
            params=Prop1Params)
def safran_shamir_prop1(p: Prop1Params) -> Result:
    verdict, rows = Verdict(), []
    rng = check_rng(p.seed)
    ds = data.gaussian(p.samples, p.dim, seed=int(rng.integers(2 ** 31)))
    X = ds.X.numpy()
    y = rng.standard_normal(p.samples)
    tight_X, tight_y = np.eye(1, p.dim), np.array([1.0])
    settings = [("random data", X, y, loss, depth, 1.0) for loss in p.losses for depth in p.depths]
    settings += [("one point, small init", tight_X, tight_y, "squared", 1, p.tight_scale)]
    for name, Xs, ys, loss, depth, scale in progress(settings, "settings"):
        zero = float(_loss(np.zeros((1, len(ys))), ys, loss)[0])
        for n in p.widths:
            P = _predictions(Xs, n, depth, p.draws, scale, rng)
            hits = int((_loss(P, ys, loss) > zero).sum())
            est = hits / p.draws
            low, high = clopper_pearson(hits, p.draws)
            bound = 0.5 * (1.0 - 2.0 ** -n)
            rows.append({"setting": name, "loss": loss, "depth": depth, "width": n, "estimate": est,
                         "ci_low": low, "ci_high": high, "se": math.sqrt(est * (1 - est) / p.draws),
                         "se_bound": math.sqrt(bound * (1 - bound) / p.draws), "bound": bound,
                         "draws": p.draws})
    table = pd.DataFrame(rows)
    gap = (table["bound"] - p.z * table["se_bound"]) - table["estimate"]
    verdict.add("P[L(W0) > L(0)] >= (1 - 2^-n)/2 - z SE (every setting)", float(gap.max()), "<= 0", p.z,
                bool((gap <= 0).all()), note="measured: largest (bound - z SE) - estimate", kind="evidence")
    tight = table[table["setting"] == "one point, small init"]
    tgap = (tight["estimate"] - tight["bound"]).abs() - p.z * tight["se_bound"]
    verdict.add("one point, small init: Monte Carlo = the bound within z SE (tight)", float(tgap.max()), "<= 0",
                p.z, bool((tgap <= 0).all()),
                note="P = (1/2) P[some neuron alive] = (1 - 2^-n)/2 as the scale -> 0", kind="evidence")
    fig, (ax,) = figure(width=6)
    for key, sub in table.groupby(["setting", "loss", "depth"]):
        line, = ax.plot(sub["width"], sub["estimate"], "o-", ms=3, label=" / ".join(map(str, key)))
        ax.fill_between(sub["width"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.25)
    ww = np.array(sorted(p.widths))
    ax.plot(ww, 0.5 * (1 - 2.0 ** -ww), "k--", label="bound (1 - 2^-n)/2")
    ax.set(xscale="log", xlabel="last hidden width n", ylabel="P[L(W0) > L(0)]", ylim=(0, 1.02),
           title="SS-P1")
    ax.legend(fontsize=6)
    return Result(table, verdict, {"probability": fig}, {})
