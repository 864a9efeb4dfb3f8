"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-prop1``: SS-P1, P[L(W0) > L(0)] >= (1 - 2^-n) / 2.

Each row records whether its initialisation meets Assumption 1's sign symmetry of the last
layer (``last_layer=positive`` breaks it: not covered). The Monte Carlo is judged with exact
(Clopper–Pearson) intervals, Bonferroni-corrected over the rows, with a minimum of draws.
For one data point (target 1) at a small init scale, P[L > L(0)] = P[output < 0] =
(1 - 2^-n)/2 exactly by the sign symmetry (as long as the output stays below 2): an
equality check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ... import data
from ..._validation import check_rng
from ...basins.losses import ScalarLoss
from ...basins.montecarlo import clopper_pearson
from ...record import Measurement
from ...record.stats import CONFIDENCE, proportion_rows
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003, random_relu_outputs


# --------------------------------------------------------------------------- SS-P1
@dataclass(frozen=True)
class Prop1Params(Params):
    """Parameters of ``safran-shamir-prop1``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        samples: the number m of random data points (Gaussian X, N(0, 1) targets).
        dim: their dimension d (points in R^d).
        widths: widths of the last hidden layer n_{h-1}.
        depths: numbers of hidden layers (1: two-layer net; 2: one more ReLU layer of width ``dim``).
        losses: ``squared`` and/or ``logistic`` (labels sign(y)).
        draws: Gaussian initialisations per setting.
        tight_scale: init scale of the nearly tight setting (one data point, target 1).
        last_layer: ``gaussian`` (Assumption 1) or ``positive`` (|N(0, 1)| output weights:
            outside SS-P1's hypothesis, reported not covered).
        confidence: overall coverage of the exact intervals of each check.
        min_draws: draws below which a row does not decide.
    """

    samples: int = 20
    dim: int = 10
    widths: tuple[int, ...] = (1, 2, 5, 20)
    depths: tuple[int, ...] = (1, 2)
    losses: tuple[str, ...] = ("squared", "logistic")
    draws: int = 10_000
    tight_scale: float = 1e-4
    last_layer: str = "gaussian"
    confidence: float = CONFIDENCE
    min_draws: int = 20
    QUICK = {"draws": 3000, "depths": (1,)}
    LIMITS: ClassVar[dict[str, str]] = {"samples": ">= 1", "dim": ">= 1", "widths": "nonempty, >= 1",
                                        "depths": "nonempty, >= 1", "losses": "one of squared|logistic",
                                        "draws": ">= 1", "tight_scale": "> 0",
                                        "last_layer": "one of gaussian|positive", "confidence": "> 0, < 1",
                                        "min_draws": ">= 1"}


def _loss(P: np.ndarray, y: np.ndarray, loss: str) -> np.ndarray:
    """Mean loss per draw; the logistic loss takes the labels sign(y)."""
    return ScalarLoss(loss).value(P, y if loss == "squared" else np.sign(y)).mean(-1)


def measure(p: Prop1Params) -> Measurement:
    """Monte Carlo P[L(W0) > L(0)] and the bound per (setting, loss, depth, width).

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    rows = []
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
            P = random_relu_outputs(Xs, n, depth, p.draws, scale, rng, p.last_layer)
            hits = int((_loss(P, ys, loss) > zero).sum())
            est = hits / p.draws
            low, high = clopper_pearson(hits, p.draws)
            bound = 0.5 * (1.0 - 2.0 ** -n)
            rows.append({"setting": name, "loss": loss, "depth": depth, "width": n, "estimate": est,
                         "ci_low": low, "ci_high": high, "se": math.sqrt(est * (1 - est) / p.draws),
                         "se_bound": math.sqrt(bound * (1 - bound) / p.draws), "bound": bound,
                         "draws": p.draws, "symmetric_last_layer": p.last_layer == "gaussian"})
    return Measurement(pd.DataFrame(rows), {})


def judge(m: Measurement, p: Prop1Params) -> Verdict:
    """Assumption 1 per row; Monte Carlo above the bound everywhere and equal to it (tight) for
    one point at small init (exact intervals).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table = m.table
    verdict = Verdict()
    sym = table["symmetric_last_layer"].astype(bool).to_numpy()
    verdict.hypothesis("Assumption 1: sign-symmetric last layer", f"{int(sym.sum())} of {len(table)} rows",
                       "every row", bool(sym.any()))
    ok = table[sym]
    names = ["P[L(W0) > L(0)] >= (1 - 2^-n)/2 (every setting)",
             "one point, small init: Monte Carlo = the bound (tight)"]
    if ok.empty:
        for name in names:
            verdict.not_covered(name, ">= (1 - 2^-n)/2", "no row meets Assumption 1")
        return verdict

    def rows(t: pd.DataFrame) -> list:
        return [(f"{r.setting}/{r.loss}/depth {int(r.depth)}/n={int(r.width)}", round(r.estimate * r.draws),
                 int(r.draws), r.bound) for r in t.itertuples()]

    proportion_rows(verdict, names[0], rows(ok), word="at_least", expected=">= (1 - 2^-n)/2",
                    confidence=p.confidence, min_draws=p.min_draws)
    tight = ok[ok["setting"] == "one point, small init"]
    proportion_rows(verdict, names[1], rows(tight), word="equals", expected="= (1 - 2^-n)/2",
                    confidence=p.confidence, min_draws=p.min_draws,
                    note="P = P[output < 0] = (1/2) P[some neuron alive] = (1 - 2^-n)/2 by the sign symmetry")
    return verdict


def draw(m: Measurement, p: Prop1Params) -> dict:
    """The probability against the last hidden width, per setting, with the bound.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``probability``.
    """
    table = m.table
    fig, (ax,) = figure(width=6)
    for key, sub in table.groupby(["setting", "loss", "depth"]):
        line, = ax.plot(sub["width"], sub["estimate"], "o-", ms=3, label=" / ".join(map(str, key)))
        ax.fill_between(sub["width"], sub["ci_low"], sub["ci_high"], color=line.get_color(), alpha=0.25)
    ww = np.array(sorted(p.widths))
    ax.plot(ww, 0.5 * (1 - 2.0 ** -ww), "k--", label="bound (1 - 2^-n)/2")
    ax.set(xscale="log", xlabel="last hidden width n", ylabel="P[L(W0) > L(0)]", ylim=(0, 1.02),
           title="SS-P1")
    ax.legend(fontsize=6)
    return {"probability": fig}


safran_shamir_prop1 = experiment(
    "safran-shamir-prop1", source=SOURCE_003 + ", Proposition 1",
    claim="SS-P1: P[L(P(W0)) > L(0)] >= (1 - 2^-n)/2 for squared and cross-entropy losses; "
          "nearly tight for one data point at small init scale",
    params=Prop1Params, judge=judge, draw=draw)(measure)
