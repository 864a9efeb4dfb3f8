"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

Shared by the experiments ``safran-shamir-auer``, ``safran-shamir-full-rank``,
``safran-shamir-low-rank``, ``safran-shamir-overspecification``, ``safran-shamir-prop1``,
``safran-shamir-singleton`` (one module each in this package).

Basin values are exact (:mod:`valleys.basins`): sign criteria where the document's data
families allow them, convex programs otherwise, and the two are cross-validated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...basins import BasinSolver, BasinTolerances, basin_of, draw_init
from ...record.result import Check, Verdict
from ...record.stats import CONFIDENCE, MIN_DRAWS, clopper_pearson
from ..common import figure

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


def proportion_rows(verdict: Verdict, name: str, rows, *, word: str, expected: str,
                    confidence: float = CONFIDENCE, min_draws: int = MIN_DRAWS, kind: str = "evidence",
                    note: str = "") -> Check:
    """One check of several sampled proportions, each against its own bound, with exact intervals.

    Each row is judged by its Clopper–Pearson interval at the Bonferroni-corrected
    confidence ``1 - (1 - confidence) / r`` (``r`` the rows that decide), so the check as a
    whole has coverage ``confidence``. A row with fewer than ``min_draws`` draws does not
    decide ("insufficient draws"), nor does a row whose bound no outcome could contradict
    ("vacuous": ``at_least`` a bound <= 0; ``equals`` a probability p with
    ``min(p, 1 - p) * draws < 1``, fewer than one expected exception).

    Args:
        verdict: the verdict to add the check to.
        name: what is checked.
        rows: ``(label, successes, draws, bound)`` per row.
        word: ``"at_least"`` (p >= bound) or ``"equals"`` (p = bound, an exact probability
            computed by separate code).
        expected: the claim in words, e.g. ``">= 1 - 2d(3/4)^n"``.
        confidence: the check's overall coverage.
        min_draws: the minimum draws for a row to decide.
        kind: the check's kind.
        note: extra explanation, prepended.

    Returns:
        The added check: passed when every deciding row holds; ``insufficient draws`` or
        ``vacuous`` when no row decides (insufficient if any row had too few draws).

    Raises:
        ValueError: for an unknown ``word``.
    """
    if word not in ("at_least", "equals"):
        raise ValueError(f"word must be at_least or equals, got {word!r}")
    rows = [(str(label), int(k), int(n), float(b)) for label, k, n, b in rows]
    few = [r for r in rows if r[2] < min_draws]
    vacuous = [r for r in rows if r[2] >= min_draws and (
        r[3] <= 0.0 if word == "at_least" else min(r[3], 1.0 - r[3]) * r[2] < 1.0)]
    deciding = [r for r in rows if r not in few and r not in vacuous]
    prefix = f"{note}; " if note else ""
    left = ""
    if few:
        left += f"; {len(few)} rows with < {min_draws} draws ({' | '.join(r[0] for r in few)})"
    if vacuous:
        left += f"; {len(vacuous)} vacuous rows ({' | '.join(r[0] for r in vacuous)})"
    if not deciding:
        status = "insufficient draws" if few else "vacuous"
        return verdict.add(name, f"0 of {len(rows)} rows decide", expected, None, False,
                           f"{prefix}no row decides{left}", kind=kind, status=status)
    level = 1.0 - (1.0 - confidence) / len(deciding)
    failed, widest = [], 0.0
    for label, k, n, b in deciding:
        low, high = clopper_pearson(k, n, level)
        widest = max(widest, (high - low) / 2)
        holds = high >= b if word == "at_least" else low <= b <= high
        if not holds:
            failed.append(f"{label}: {k}/{n}, interval [{low:.4g}, {high:.4g}] vs {b:.4g}")
    text = (f"{prefix}{len(deciding) - len(failed)} of {len(deciding)} deciding rows hold; exact "
            f"intervals at {level:.4%} each (Bonferroni over {len(deciding)} rows, {confidence:.0%} overall)"
            f"{left}")
    if failed:
        text += "; failing: " + "; ".join(failed)
    return verdict.add(name, f"{len(deciding) - len(failed)} of {len(deciding)} rows", expected, widest,
                       not failed, text, kind=kind)
