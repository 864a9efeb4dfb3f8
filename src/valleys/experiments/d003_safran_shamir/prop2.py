"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-prop2``: SS-P2, the generalised Proposition 1. If, given a nonzero
prediction, \\(c \\mapsto L(cP(W_0))\\) is strictly convex on \\([-1, 1]\\) with probability at
least \\(r\\), then \\(P[L(P(W_0)) > L(0)] \\ge \\frac r2(1 - 2^{-n})\\).

For the squared loss \\(r = 1\\) and SS-P2 is SS-P1. To see the generalisation, the loss here
is the dead-zone squared loss \\(\\ell(p, y) = \\max(|p - y| - \\tau, 0)^2\\) (convex, flat within
\\(\\tau\\) of the target), for which \\(r < 1\\): the ray is affine (constant) on the interval of
\\(c\\) where every sample sits in its dead zone. That interval is computed exactly per draw
(:func:`flat_interval`): \\(g(c) = L(cP)\\) is strictly convex on \\([-1, 1]\\) iff the
intersection of the samples' dead-zone intervals meets \\([-1, 1]\\) in at most one point.

Checks per (setting, width): the Monte Carlo \\(P[L(P) > L(0)]\\) against the bound with
\\(r\\) estimated on the same draws (the bound takes the lower end of \\(r\\)'s exact interval,
so \\(r\\)'s sampling error cannot make the check fail), and the proof's step
\\(P[L(P) > L(0) \\mid \\text{strictly convex}, P \\ne 0] \\ge \\frac12\\) (strict convexity gives
\\(g(1) + g(-1) > 2g(0)\\), and the sign symmetry of the last layer makes both signs equally
likely). Each row records its Assumption-1 sign symmetry (``last_layer=positive`` breaks it:
not covered). A grid test of the flat stretch on a subsample of draws is the classifier's
self-check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ..._validation import check_rng
from ...basins.montecarlo import clopper_pearson
from ...record import Measurement
from ...record.stats import CONFIDENCE, proportion_rows
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, random_relu_outputs


@dataclass(frozen=True)
class Prop2Params(Params):
    """Parameters of ``safran-shamir-prop2``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        tau: half-width of the dead zone of the loss \\(\\max(|p - y| - \\tau, 0)^2\\).
        dim: input dimension d of the data.
        one_point_scale: init scale of the setting "one point" (x = e_1, y = 1).
        five_points_targets: targets of the setting "five points" (Gaussian x in R^d); all but
            one inside the dead zone, so the flat interval often meets [-1, 1].
        five_points_scale: init scale of that setting.
        widths: widths n of the last (only) hidden layer.
        draws: Gaussian initialisations per (setting, width) (CLAIMS.md: 10^4).
        last_layer: ``gaussian`` (Assumption 1) or ``positive`` (|N(0, 1)| output weights:
            outside SS-P2's hypothesis, reported not covered).
        grid_draws: draws per row whose flat stretch is also located on a grid (self-check).
        grid_points: points of that grid on [-1, 1].
        confidence: overall coverage of the exact intervals of each check (and of the lower
            end of r used in the bound).
        min_draws: draws below which a row does not decide.
    """

    tau: float = 0.5
    dim: int = 10
    one_point_scale: float = 0.7
    five_points_targets: tuple[float, ...] = (0.8, -0.3, 0.2, 0.1, -0.2)
    five_points_scale: float = 0.3
    widths: tuple[int, ...] = (1, 2, 5, 20)
    draws: int = 10_000
    last_layer: str = "gaussian"
    grid_draws: int = 200
    grid_points: int = 4001
    confidence: float = CONFIDENCE
    min_draws: int = 20
    QUICK = {"draws": 2000, "grid_draws": 50}
    LIMITS: ClassVar[dict[str, str]] = {"tau": "> 0", "dim": ">= 1", "one_point_scale": "> 0",
                                        "five_points_targets": "nonempty", "five_points_scale": "> 0",
                                        "widths": "nonempty, >= 1", "draws": ">= 1",
                                        "last_layer": "one of gaussian|positive", "grid_draws": ">= 0",
                                        "grid_points": ">= 5", "confidence": "> 0, < 1", "min_draws": ">= 1"}


def dead_zone_loss(P: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    r"""The mean dead-zone squared loss \(\frac1m\sum_t \max(|P_t - y_t| - \tau, 0)^2\).

    Args:
        P: predictions ``(..., m)``.
        y: targets ``(m,)``.
        tau: half-width of the dead zone.

    Returns:
        The loss per leading index, shape ``P.shape[:-1]``.
    """
    return (np.maximum(np.abs(P - y) - tau, 0.0) ** 2).mean(-1)


def flat_interval(P: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    r"""Length of the stretch of \([-1, 1]\) where \(g(c) = L(cP)\) is affine (constant).

    Sample \(t\) with \(P_t \ne 0\) is in its dead zone for \(c\) in the interval between
    \((y_t - \tau)/P_t\) and \((y_t + \tau)/P_t\); elsewhere its term has second derivative
    \(2P_t^2/m > 0\). So \(g'' = 0\) exactly on the intersection of these intervals, and \(g\)
    is strictly convex on \([-1, 1]\) iff that intersection meets \([-1, 1]\) in at most one
    point (length 0).

    Args:
        P: predictions ``(draws, m)``.
        y: targets ``(m,)``.
        tau: half-width of the dead zone.

    Returns:
        The length per draw (``inf``-free; a draw with ``P = 0`` gets length 2).
    """
    live = P != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = (y - tau) / P, (y + tau) / P
    lo = np.where(live, np.minimum(a, b), -np.inf).max(-1)
    hi = np.where(live, np.maximum(a, b), np.inf).min(-1)
    return np.maximum(0.0, np.minimum(hi, 1.0) - np.maximum(lo, -1.0))


def _grid_flat(P: np.ndarray, y: np.ndarray, tau: float, points: int) -> np.ndarray:
    """Whether g is exactly constant on three consecutive points of a grid of [-1, 1] (a flat
    stretch longer than two grid steps), per draw: the classifier's self-check."""
    c = np.linspace(-1.0, 1.0, points)
    g = dead_zone_loss(c[None, :, None] * P[:, None, :], y, tau)
    return ((g[:, 1:-1] == g[:, :-2]) & (g[:, 1:-1] == g[:, 2:])).any(1)


def _settings(p: Prop2Params, rng) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    one = ("one point", np.eye(1, p.dim), np.array([1.0]), p.one_point_scale)
    y5 = np.array(p.five_points_targets, dtype=np.float64)
    five = ("five points", rng.standard_normal((len(y5), p.dim)), y5, p.five_points_scale)
    return [one, five]


def measure(p: Prop2Params) -> Measurement:
    """Per (setting, width): draws of random ReLU nets, the exact strict-convexity class of each
    draw's output ray, whether L(P) > L(0), and the grid self-check on a subsample.

    Args:
        p: the parameters.

    Returns:
        The measurement: one row per (setting, width) with the counts (``hits``: L(P) > L(0);
        ``nonzero``: P != 0; ``strict``: strictly convex ray and P != 0; ``strict_hits``),
        the estimate of r, the bound, the hypothesis column ``symmetric_last_layer`` and the
        grid self-check's disagreements.
    """
    rows = []
    rng = check_rng(p.seed)
    for name, X, y, scale in progress(_settings(p, rng), "settings"):
        zero = float(dead_zone_loss(np.zeros(len(y)), y, p.tau))
        for n in p.widths:
            P = random_relu_outputs(X, n, 1, p.draws, scale, rng, p.last_layer)
            nonzero = (P != 0).any(1)
            flat = flat_interval(P, y, p.tau)
            strict = nonzero & (flat == 0.0)
            hit = dead_zone_loss(P, y, p.tau) > zero
            k = min(p.grid_draws, p.draws)
            grid = _grid_flat(P[:k], y, p.tau, p.grid_points)
            step = 2.0 / (p.grid_points - 1)
            decidable = (flat[:k] == 0.0) | (flat[:k] > 2 * step)  # a shorter stretch may fall between points
            mismatch = int((decidable & (grid != (flat[:k] > 0.0))).sum())
            r_hat = strict.sum() / max(int(nonzero.sum()), 1)
            r_low = clopper_pearson(int(strict.sum()), int(nonzero.sum()), p.confidence)[0] if nonzero.any() else 0.0
            rows.append({"setting": name, "width": n, "draws": p.draws, "scale": scale, "tau": p.tau,
                         "loss_at_zero": zero, "hits": int(hit.sum()), "nonzero": int(nonzero.sum()),
                         "strict": int(strict.sum()), "strict_hits": int((hit & strict).sum()),
                         "nonstrict_hits": int((hit & nonzero & ~strict).sum()),
                         "r": float(r_hat), "r_low": float(r_low),
                         "estimate": float(hit.mean()), "bound": 0.5 * r_hat * (1.0 - 2.0 ** -n),
                         "bound_r_low": 0.5 * r_low * (1.0 - 2.0 ** -n),
                         "grid_checked": int(decidable.sum()), "grid_mismatch": mismatch,
                         "symmetric_last_layer": p.last_layer == "gaussian"})
    return Measurement(pd.DataFrame(rows), {"r_min": float(min(r["r"] for r in rows)),
                                            "r_max": float(max(r["r"] for r in rows))})


def judge(m: Measurement, p: Prop2Params) -> Verdict:
    """Assumption 1 per row; the Monte Carlo above the SS-P2 bound (with r's lower end) and,
    given a strictly convex ray, P[L(P) > L(0)] >= 1/2.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The verdict.
    """
    table = m.table
    verdict = Verdict()
    sym = table["symmetric_last_layer"].astype(bool).to_numpy()
    verdict.hypothesis("Assumption 1: sign-symmetric last layer", f"{int(sym.sum())} of {len(table)} rows",
                       "every row", bool(sym.any()))
    ok = table[sym]
    names = ["P[L(P(W0)) > L(0)] >= (r/2)(1 - 2^-n) (every row)",
             "P[L(P(W0)) > L(0) | strictly convex ray, P != 0] >= 1/2 (the proof's step)"]
    if ok.empty:
        for name in names:
            verdict.not_covered(name, ">= the bound", "no row meets Assumption 1")
        return verdict
    below_one = ok[ok["r"] < 1.0]
    proportion_rows(verdict, names[0],
                    [(f"{r.setting}/n={int(r.width)}/r={r.r:.3f}", int(r.hits), int(r.draws), r.bound_r_low)
                     for r in ok.itertuples()], word="at_least", expected=">= (r/2)(1 - 2^-n)",
                    confidence=p.confidence, min_draws=p.min_draws,
                    note=f"dead-zone loss (tau = {p.tau:g}); r estimated per row on the same draws, the bound "
                         f"uses the lower end of its exact interval; r < 1 in {len(below_one)} of {len(ok)} rows "
                         f"(r from {float(ok['r'].min()):.3f} to {float(ok['r'].max()):.3f})")
    proportion_rows(verdict, names[1],
                    [(f"{r.setting}/n={int(r.width)}", int(r.strict_hits), int(r.strict), 0.5)
                     for r in ok.itertuples()], word="at_least", expected=">= 1/2",
                    confidence=p.confidence, min_draws=p.min_draws,
                    note="strict convexity on [-1, 1] gives g(1) + g(-1) > 2 g(0), and v -> -v maps P to -P; "
                         "without it the rate can be lower: P[L(P) > L(0) | P != 0, not strictly convex] = "
                         + ", ".join(f"{r.setting}/n={int(r.width)}: "
                                     f"{r.nonstrict_hits / max(int(r.nonzero) - int(r.strict), 1):.3f}"
                                     for r in ok.itertuples()))
    checked, mismatch = int(ok["grid_checked"].sum()), int(ok["grid_mismatch"].sum())
    verdict.add("exact flat-interval classifier == a grid search for a constant stretch of g", mismatch, 0, None,
                mismatch == 0, note=f"{checked} draws whose stretch is 0 or longer than two grid steps "
                                   f"({p.grid_points} points); a self-check of the classifier", kind="consistency")
    return verdict


def draw(m: Measurement, p: Prop2Params) -> dict:
    """The probability against the width per setting, with the SS-P2 bound and the estimate of r.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        ``{"probability": figure}``.
    """
    table = m.table
    fig, (ax,) = figure(width=6)
    for key, sub in table.groupby("setting"):
        line, = ax.plot(sub["width"], sub["estimate"], "o-", ms=3, label=f"{key}: P[L(P) > L(0)]")
        ax.plot(sub["width"], sub["bound"], "--", color=line.get_color(), label=f"{key}: (r/2)(1 - 2^-n)")
        ax.plot(sub["width"], sub["r"], ":", color=line.get_color(), label=f"{key}: r")
    ax.set(xscale="log", xlabel="last hidden width n", ylabel="probability", ylim=(0, 1.02),
           title=f"SS-P2: dead-zone loss, tau = {p.tau:g}")
    ax.legend(fontsize=6)
    return {"probability": fig}


safran_shamir_prop2 = experiment(
    "safran-shamir-prop2", source=SOURCE_003 + ", Proposition 2",
    claim="SS-P2: P[L(P(W0)) > L(0)] >= (r/2)(1 - 2^-n) with r = P[the output ray is strictly convex], "
          "measured for a dead-zone loss where r < 1",
    params=Prop2Params, judge=judge, draw=draw)(measure)
