"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-low-rank``: SS-T3, a realizable rank-2 teacher at width c⌈n/p_eps⌉.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins import initial_basin_quality
from ...basins.assumptions import data_assumptions
from ...curvature import matrix_rank
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, _histogram_figure


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


def measure(p: LowRankParams) -> Measurement:
    """The planted rank-2 data, p_eps and the theorem's width; Monte Carlo P[Bas <= eps] per width."""
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
    # NumPy's default threshold max(m, d) eps sigma_max, with the gap that decides the rank
    rank_x = matrix_rank(X, tau=max(X.shape) * float(np.finfo(X.dtype).eps), warn=False)
    rank = rank_x.count
    pe = p_epsilon(p.eps, p.teacher_width, 1.0, rank)
    width = p.c * math.ceil(p.teacher_width / pe)
    bound = 1.0 - math.exp(-p.c * p.teacher_width / 4.0)
    report = data_assumptions(X, y)
    zero_loss = float(np.mean(y ** 2))
    rows, hist = [], {}
    for n, draws in progress([(width, p.draws)] + [(w, p.scan_draws) for w in p.scan_widths], "widths"):
        q = initial_basin_quality(X, y, (n,), draws, "gaussian", rng, method="qp", threshold=p.eps)
        row = q.table.iloc[0].to_dict()
        row.update(bound=bound if n == width else math.nan, theorem_width=n == width)
        rows.append(row)
        hist[f"n={n}"] = q.values[n]
    table = pd.DataFrame(rows)
    reach = table[(~table["theorem_width"]) & (table["ci_low"] >= bound)]
    empirical = int(reach["width"].min()) if len(reach) else None
    return Measurement(table, {"p_eps": pe, "theorem_width": width, "bound": bound, "zero_loss": zero_loss,
                               "empirical_width_reaching_bound": empirical, "teacher_loss": teacher_loss,
                               "max_input_norm": float(np.linalg.norm(X, axis=1).max()), "rank": rank,
                               "rank_gap_ratio": rank_x.gap_ratio, "teacher_B": B,
                               "assumptions_hold": bool(report.holds("SS-T3"))},
                       extras={"hist": hist})


def judge(m: Measurement, p: LowRankParams) -> Verdict:
    """The data meet SS-T3's hypotheses; the fraction at the theorem's width reaches the bound."""
    table, s = m.table, m.summary
    verdict = Verdict()
    rank, teacher_loss, B, pe, width = s["rank"], s["teacher_loss"], s["teacher_B"], s["p_eps"], s["theorem_width"]
    bound, zero_loss = s["bound"], s["zero_loss"]
    verdict.add("data: ||x_t|| <= 1, rank X = 2, teacher realizes y with |v_i| ||w_i|| <= 1",
                [s["max_input_norm"], rank, teacher_loss, B], "[<= 1, 2, 0, <= 1]",
                p.zero_tol, s["assumptions_hold"] and rank == 2 and teacher_loss <= p.zero_tol and B <= 1.0,
                kind="consistency")
    verdict.add("the zero net is not already eps-good: L(0) = mean y^2 > eps", zero_loss, f"> {p.eps}", None,
                zero_loss > p.eps, kind="consistency")
    if p.teacher_width == 2 and p.c == 2 and p.eps == 0.01 and rank == 2:
        verdict.add("p_eps and width vs CLAIMS.md's derived numbers", [pe, width], [0.0079553, 504], 1e-7,
                    abs(pe - 0.0079553) <= 1e-7 and width == 504, kind="consistency")
    main = table[table["theorem_width"]].iloc[0]
    verdict.add(f"fraction with Bas <= eps at width {width} >= 1 - exp(-cn/4) - z SE",
                float(main["estimate"]), f">= {bound:.4f}", p.z * float(main["se"]),
                main["estimate"] >= bound - p.z * main["se"],
                note=f"Clopper-Pearson 95%: [{main['ci_low']:.3f}, {main['ci_high']:.3f}]", kind="evidence")
    return verdict


def draw(m: Measurement, p: LowRankParams) -> dict:
    """P[Bas <= eps] against width with the bound; the basin values per width."""
    table, width, bound = m.table, m.summary["theorem_width"], m.summary["bound"]
    fig, (ax,) = figure(width=6)
    sub = table.sort_values("width")
    ax.plot(sub["width"], sub["estimate"], "o-", label="Monte Carlo P[Bas <= eps]")
    ax.fill_between(sub["width"], sub["ci_low"], sub["ci_high"], alpha=0.25)
    ax.axhline(bound, ls="--", color="k", label="bound 1 - exp(-cn/4)")
    ax.set(xscale="log", xlabel="width", ylabel="probability", ylim=(-0.02, 1.02),
           title=f"SS-T3 rank 2: theorem width {width}")
    ax.legend(fontsize=7)
    return {"probability": fig, "basin_values": _histogram_figure(m.extras["hist"], "Basin values (low rank)")}


safran_shamir_low_rank = experiment(
    "safran-shamir-low-rank", source=SOURCE_003 + ", Theorem 3 (low intrinsic dimension)",
    claim="SS-T3: realizable data of rank 2, width c⌈n/p_eps⌉ (504 for n = 2, B = 1, "
          "eps = 0.01, c = 2): P[Bas <= eps] >= 1 - exp(-cn/4)",
    params=LowRankParams, judge=judge, draw=draw)(measure)
