"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-low-rank``: SS-T3, a realizable rank-2 teacher at width c⌈n/p_eps⌉.

SS-T3's hypotheses (||x_t|| <= 1, a width-n teacher with zero loss and |v_i| ||w_i|| <= B = 1,
rank X >= 2 for p_eps) are measured on the generated data and recorded per row; the fraction
with Bas <= eps is judged with an exact interval and a minimum of draws. Every basin's
closure contains the zero net (u = 0 is feasible), so Bas <= L(0): where L(0) <= eps the
bound cannot fail and the check is vacuous.
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
from ...record.stats import CONFIDENCE, proportion_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, _histogram_figure


# --------------------------------------------------------------------------- SS-T3 low rank
def p_epsilon(eps: float, n: int, B: float, rank: int) -> float:
    r"""SS-T3's probability \(p_\varepsilon\) of a good neuron.

    \(p_\varepsilon = \frac{1}{2\pi(r-1)}\big(\frac{\sqrt\varepsilon}{nB}\sqrt{1 - \varepsilon/(4n^2B^2)}\big)^{r-1}\).

    Args:
        eps: the target value \(\varepsilon\).
        n: the teacher's width.
        B: the bound on \(|v_i^*|\|w_i^*\|\).
        rank: \(r = \operatorname{rank} X\).

    Returns:
        \(p_\varepsilon\) (0.0079553 for \(\varepsilon = 0.01\), \(n = 2\), \(B = 1\), \(r = 2\)).
    """
    base = math.sqrt(eps) / (n * B) * math.sqrt(1.0 - eps / (4.0 * n * n * B * B))
    return base ** (rank - 1) / (2.0 * math.pi * (rank - 1))


@dataclass(frozen=True)
class LowRankParams(Params):
    """Parameters of ``safran-shamir-low-rank``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        samples: m data points (||x_t|| <= 1) in a rank-2 subspace of R^dim.
        dim: input dimension d.
        teacher_width: n, ReLU units of the planted teacher (|v_i| ||w_i|| <= B = 1).
        eps: the basin-value threshold epsilon.
        c: the theorem's multiplier (width c ⌈n / p_eps⌉); SS-T3 needs c >= 2, c = 1 is
            measured and reported not covered.
        draws: initialisations at the theorem's width.
        scan_widths: smaller widths scanned for the empirical width reaching the bound.
        scan_draws: draws per scanned width.
        confidence: coverage of the exact interval at the theorem's width.
        min_draws: draws below which the check does not decide.
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
    confidence: float = CONFIDENCE
    min_draws: int = 20
    zero_tol: float = 1e-20
    QUICK = {"draws": 24, "scan_widths": (4,), "scan_draws": 20}
    LIMITS: ClassVar[dict[str, str]] = {
        "samples": ">= 2", "dim": ">= 2", "teacher_width": ">= 1", "eps": "> 0", "c": ">= 1",
        "draws": ">= 1", "scan_widths": "nonempty, >= 1", "scan_draws": ">= 1", "confidence": "> 0, < 1",
        "min_draws": ">= 1", "zero_tol": ">= 0"}


def measure(p: LowRankParams) -> Measurement:
    """The planted rank-2 data, p_eps and the theorem's width; Monte Carlo P[Bas <= eps] per width.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
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
    table = pd.DataFrame(rows).assign(max_input_norm=float(np.linalg.norm(X, axis=1).max()), rank=rank,
                                      teacher_loss=teacher_loss, teacher_B=B, zero_loss=zero_loss, c=p.c)
    reach = table[(~table["theorem_width"]) & (table["ci_low"] >= bound)]
    empirical = int(reach["width"].min()) if len(reach) else None
    return Measurement(table, {"p_eps": pe, "theorem_width": width, "bound": bound, "zero_loss": zero_loss,
                               "empirical_width_reaching_bound": empirical, "teacher_loss": teacher_loss,
                               "max_input_norm": float(np.linalg.norm(X, axis=1).max()), "rank": rank,
                               "rank_gap_ratio": rank_x.gap_ratio, "teacher_B": B,
                               "assumptions_hold": bool(report.holds("SS-T3"))},
                       extras={"hist": hist})


def judge(m: Measurement, p: LowRankParams) -> Verdict:
    """SS-T3's hypotheses from the table; the fraction at the theorem's width reaches the bound
    (exact interval; vacuous where L(0) <= eps).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table, s = m.table, m.summary
    verdict = Verdict()
    main = table[table["theorem_width"]].iloc[0]
    norm_ok = float(main["max_input_norm"]) <= 1.0
    teacher_ok = float(main["teacher_loss"]) <= p.zero_tol and float(main["teacher_B"]) <= 1.0
    rank_ok = int(main["rank"]) >= 2
    verdict.hypothesis("||x_t|| <= 1", float(main["max_input_norm"]), "<= 1", norm_ok)
    verdict.hypothesis("a width-n teacher realizes y with |v_i| ||w_i|| <= B = 1",
                       [float(main["teacher_loss"]), float(main["teacher_B"])], f"[<= {p.zero_tol:g}, <= 1]",
                       teacher_ok)
    verdict.hypothesis("rank X >= 2 (p_eps)", int(main["rank"]), "rank X >= 2", rank_ok)
    c_ok = int(main["c"]) >= 2
    verdict.hypothesis("width multiplier c >= 2", int(main["c"]), "c >= 2", c_ok)
    width, bound, zero_loss = s["theorem_width"], s["bound"], float(main["zero_loss"])
    name = f"fraction with Bas <= eps at width {width} >= 1 - exp(-cn/4)"
    if not (norm_ok and teacher_ok and rank_ok and c_ok):
        verdict.not_covered(name, f">= {bound:.4f}", "the data break SS-T3's hypotheses")
        return verdict
    if p.teacher_width == 2 and p.c == 2 and p.eps == 0.01 and int(main["rank"]) == 2:
        pe = s["p_eps"]
        verdict.add("p_eps and width vs CLAIMS.md's derived numbers", [pe, width], [0.0079553, 504], 1e-7,
                    abs(pe - 0.0079553) <= 1e-7 and width == 504, kind="consistency")
    draws = int(main["draws"])
    if zero_loss <= p.eps:
        verdict.add(name, float(main["estimate"]), f">= {bound:.4f}", None, False,
                    note=f"L(0) = {zero_loss:.4g} <= eps = {p.eps:g}: every basin's closure holds the zero net, "
                         f"so Bas <= eps for every draw", kind="evidence", status="vacuous")
        return verdict
    proportion_check(verdict, name, round(float(main["estimate"]) * draws), draws, at_least=bound,
                     confidence=p.confidence, min_draws=p.min_draws,
                     note=f"L(0) = {zero_loss:.4g} > eps = {p.eps:g}, so the event is not implied by Bas <= L(0)")
    return verdict


def draw(m: Measurement, p: LowRankParams) -> dict:
    """P[Bas <= eps] against width with the bound; the basin values per width.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``probability``, ``basin_values``.
    """
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
