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
from ..common import figure

SOURCE_003 = "003 Safran & Shamir, 'On the quality of the initial basin in overspecified neural networks'"


def random_relu_outputs(X: np.ndarray, n: int, depth: int, draws: int, scale: float, rng,
                        last_layer: str = "gaussian") -> np.ndarray:
    """Outputs of random bias-free ReLU nets with last hidden width ``n`` (SS-P1, SS-P2).

    Every weight is ``scale`` times N(0, 1) (Assumption 1: each neuron spherically symmetric);
    the ``depth - 1`` extra hidden layers have width ``X.shape[1]``.

    Args:
        X: data ``(m, d)``.
        n: width of the last hidden layer.
        depth: number of hidden layers (1: a two-layer net).
        draws: independent initialisations.
        scale: standard deviation of every weight.
        rng: a NumPy ``Generator``.
        last_layer: ``"gaussian"`` (Assumption 1) or ``"positive"`` (|N(0, 1)| output weights,
            which breaks the sign symmetry).

    Returns:
        The predictions, shape ``(draws, m)``.
    """
    H = np.broadcast_to(X, (draws, *X.shape))
    for _ in range(depth - 1):
        H = np.maximum(H @ (scale * rng.standard_normal((draws, X.shape[1], X.shape[1]))), 0.0)
    H = np.maximum(H @ (scale * rng.standard_normal((draws, H.shape[-1], n))), 0.0)
    V = scale * rng.standard_normal((draws, n, 1))
    return (H @ (np.abs(V) if last_layer == "positive" else V))[..., 0]


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
