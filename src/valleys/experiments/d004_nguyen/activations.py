"""Document 004 (Nguyen thesis), chapter 2: the activations of Assumption 2.4.2.

``nguyen-activations``: NG-L2.4.3 (ReLU and softplus_alpha satisfy the growth condition (b)
with the constants of the proof in §2.6.1, sigmoid the vanishing-limit condition (a)) and
NG-Eq2.5 (softplus_alpha tends to ReLU, uniformly within log 2 / alpha, attained at t = 0).

The activations are the library's (:func:`valleys.nets.get_activation`); the envelopes they are
held against are the closed forms of the thesis, computed here by separate code. A limit cannot
be read off a finite grid, so condition (a) is certified by the envelopes of the closed form
1 / (1 + e^{-t}): sigma(t) <= e^{t} for t < 0 and 1 - sigma(t) <= e^{-t} for t > 0, which force
mu_- = 0 and mu_+ = 1. tanh (mu_+ mu_- = -1) is measured as an outside-the-lemma probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ...nets import get_activation
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2

#: The activations NG-L2.4.3 lists (softplus for every alpha > 0); tanh is an outside probe.
LEMMA_ACTIVATIONS = ("relu", "sigmoid", "softplus")


# ------------------------------------------------------------------- nguyen-activations
@dataclass(frozen=True)
class ActivationsParams(Params):
    """Parameters of ``nguyen-activations``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        t_max: the grid covers [-t_max, t_max].
        n_grid: grid points (odd, so that t = 0, where the softplus error peaks, is on it).
        alphas: the softplus sharpnesses alpha of NG-L2.4.3 and NG-Eq2.5.
        rtol: slack allowed on each inequality (float64 rounding of the library's activations
            and of the closed forms: relative on the ratios of condition (b), absolute on the
            differences |sigma(t) - mu| of condition (a), which are differences of O(1) numbers);
            also the relative agreement of the measured sup error with log 2 / alpha.
    """

    t_max: float = 60.0
    n_grid: int = 2_000_001
    alphas: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 20.0, 100.0, 1000.0)
    rtol: float = 1e-12
    QUICK = {"n_grid": 20_001, "alphas": (1.0, 20.0, 1000.0)}
    LIMITS: ClassVar[dict[str, str]] = {"t_max": "> 1", "n_grid": ">= 3", "alphas": "nonempty, > 0",
                                        "rtol": "> 0"}


def _grid(p: ActivationsParams) -> torch.Tensor:
    n = p.n_grid + (1 - p.n_grid % 2)  # odd: t = 0 lies on the grid
    t = torch.linspace(-p.t_max, p.t_max, n, dtype=torch.float64)
    t[n // 2] = 0.0
    return t


def measure(p: ActivationsParams) -> Measurement:
    """The envelope ratios of Assumption 2.4.2 per activation, and the softplus-ReLU sup error.

    Args:
        p: the parameters.

    Returns:
        One row per activation (and alpha): the largest ratio ``|sigma(t)| / (rho_1 e^{rho_2 t})``
        over ``t < 0`` and ``|sigma(t)| / (rho_3 t + rho_4)`` over ``t >= 0`` (condition (b); <= 1
        when it holds), the sigmoid envelopes of condition (a), the tails ``sigma(+-t_max)`` and,
        for softplus, the largest ``|sigma_alpha(t) - max(0, t)|`` and where it is attained.
    """
    t = _grid(p)
    neg, pos = t[t < 0], t[t >= 0]
    relu = torch.clamp(t, min=0.0)
    rows = []
    cases = [("relu", None, (1.0, 1.0, 1.0, 1.0)), ("sigmoid", None, None), ("tanh", None, None)]
    cases += [("softplus", a, (1.0 / a, a, 1.0, math.log(2.0) / a)) for a in p.alphas]
    for name, alpha, rho in cases:
        act = get_activation(name, alpha=alpha) if alpha is not None else get_activation(name)
        s = act(t)
        row = {"activation": name, "alpha": alpha if alpha is not None else math.nan,
               "sigma_minus": float(act(torch.tensor(-p.t_max, dtype=torch.float64))),
               "sigma_plus": float(act(torch.tensor(p.t_max, dtype=torch.float64))),
               "non_constant": float(s.max() - s.min())}
        if rho is not None:  # condition (b): |sigma| <= rho_1 e^{rho_2 t} (t < 0), <= rho_3 t + rho_4 (t >= 0)
            r1, r2, r3, r4 = rho
            row.update(rho1=r1, rho2=r2, rho3=r3, rho4=r4,
                       b_neg_ratio=float((s[t < 0].abs() / (r1 * torch.exp(r2 * neg))).max()),
                       b_pos_ratio=float((s[t >= 0].abs() / (r3 * pos + r4)).max()))
        if name in ("sigmoid", "tanh"):  # condition (a) envelopes of the logistic closed form
            mu_minus, mu_plus = (0.0, 1.0) if name == "sigmoid" else (-1.0, 1.0)
            row.update(a_low_excess=float(((s[t < 0] - mu_minus).abs() - torch.exp(neg)).max()),
                       a_high_excess=float(((s[t > 0] - mu_plus).abs() - torch.exp(-t[t > 0])).max()),
                       mu_minus=mu_minus, mu_plus=mu_plus)
        if name == "softplus":
            err = (s - relu).abs()
            row.update(sup_error=float(err.max()), argmax_t=float(t[int(err.argmax())]),
                       log2_over_alpha=math.log(2.0) / alpha)
        rows.append(row)
    return Measurement(pd.DataFrame(rows), {"grid_points": int(t.numel()), "t_max": p.t_max,
                                            "grid_step": float(t[1] - t[0])})


def judge(m: Measurement, p: ActivationsParams) -> Verdict:
    """NG-L2.4.3 per listed activation and NG-Eq2.5 per alpha, on the rows the lemma names.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: condition (b) for ReLU and every softplus_alpha, condition (a) for sigmoid,
        the sup error ``log 2 / alpha`` (evidence); tanh outside both conditions (consistency).
    """
    verdict = Verdict()
    t = m.table
    listed = t.activation.isin(LEMMA_ACTIVATIONS) & ((t.activation != "softplus") | (t.alpha > 0))
    verdict.hypothesis("activation listed by NG-L2.4.3 (ReLU, sigmoid, softplus_alpha with alpha > 0)",
                       f"{int(listed.sum())} of {len(t)} rows", "relu | sigmoid | softplus", bool(listed.any()),
                       note=f"left out: {sorted(set(t.activation[~listed]))}" if (~listed).any() else "")
    ok = t[listed]
    one = 1.0 + p.rtol
    for name, cond in (("relu", "b"), ("softplus", "b"), ("sigmoid", "a")):
        rows = ok[ok.activation == name]
        label = {"relu": "NG-L2.4.3: ReLU satisfies (b) with rho = (1, 1, 1, 1)",
                 "softplus": "NG-L2.4.3: softplus_alpha satisfies (b) with rho = (1/alpha, alpha, 1, log 2/alpha)",
                 "sigmoid": "NG-L2.4.3: sigmoid satisfies (a): sigma(t) <= e^t (t < 0) and 1 - sigma(t) <= e^-t "
                            "(t > 0), so mu_- = 0, mu_+ = 1, mu_+ mu_- = 0"}[name]
        if rows.empty:
            verdict.not_covered(label, "<= 1", f"no {name} row measured")
            continue
        alive = bool((rows.non_constant > 0).all())
        if cond == "b":
            worst, expected = float(rows[["b_neg_ratio", "b_pos_ratio"]].max().max()), "<= 1"
            holds = worst <= one
        else:  # |sigma - mu| is computed as a difference of O(1) numbers: rounding p.rtol absolute
            worst, expected = float(rows[["a_low_excess", "a_high_excess"]].max().max()), "<= 0"
            holds = worst <= p.rtol
        verdict.add(label, worst, expected, p.rtol, holds and alive,
                    note=f"largest {'envelope ratio' if cond == 'b' else 'excess over the envelopes'} over "
                         f"{len(rows)} row(s) and the grid of "
                         f"{m.summary['grid_points']} points in [-{p.t_max:g}, {p.t_max:g}]; non-constant: {alive}",
                    kind="evidence")
    sp = ok[ok.activation == "softplus"]
    name = "NG-Eq2.5: sup_t |softplus_alpha(t) - max(0, t)| = log 2 / alpha (attained at t = 0)"
    if sp.empty:
        verdict.not_covered(name, "log 2 / alpha", "no softplus row measured")
    else:
        rel = ((sp.sup_error - sp.log2_over_alpha) / sp.log2_over_alpha)
        worst = float(rel.abs().max())
        verdict.add(name, worst, 0.0, p.rtol, bool((rel <= p.rtol).all()) and worst <= 1e3 * p.rtol,
                    note="largest relative deviation of the measured sup error from log 2/alpha over alphas "
                         + ", ".join(f"{a:g}: {e:.6g}" for a, e in zip(sp.alpha, sp.sup_error, strict=True))
                         + f"; attained at t = {sorted(set(sp.argmax_t))}; alpha * sup -> log 2, so the error "
                           "tends to 0 like 1/alpha", kind="evidence")
    tanh = t[t.activation == "tanh"]
    if len(tanh):
        prod = float(tanh.sigma_minus.iloc[0] * tanh.sigma_plus.iloc[0])
        verdict.add("tanh (not listed): mu_+ mu_- = -1, so outside (a); |tanh(t)| -> 1 as t -> -inf, outside (b)",
                    prod, -1.0, 1e-12, abs(prod + 1.0) <= 1e-12 * max(1.0, p.t_max),
                    note="consistency: a closed-form fact of tanh, recorded so the probes that use it (NG-T2.4.4) "
                         "know it is outside Assumption 2.4.2", kind="consistency")
    return verdict


def draw(m: Measurement, p: ActivationsParams) -> dict:
    """The softplus-ReLU sup error against alpha, with log 2 / alpha.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"softplus_error": figure}``.
    """
    sp = m.table[m.table.activation == "softplus"].sort_values("alpha")
    fig, (ax,) = figure()
    ax.loglog(sp.alpha, sp.sup_error, "o", label="measured sup |softplus_alpha - relu|")
    ax.loglog(sp.alpha, sp.log2_over_alpha, "k--", lw=1, label="log 2 / alpha")
    ax.set(xlabel="alpha", ylabel="sup error", title="NG-Eq2.5")
    ax.legend(fontsize=7)
    return {"softplus_error": fig}


nguyen_activations = experiment(
    "nguyen-activations", source=SOURCE_004_CH2 + ", Lemma 2.4.3 and Eq. (2.5)",
    claim="NG-L2.4.3 / NG-Eq2.5: ReLU and softplus_alpha meet the growth condition of Assumption 2.4.2 "
          "with the proof's constants, sigmoid the vanishing-limit condition; sup |softplus_alpha - relu| "
          "= log 2 / alpha",
    params=ActivationsParams, judge=judge, draw=draw)(measure)
