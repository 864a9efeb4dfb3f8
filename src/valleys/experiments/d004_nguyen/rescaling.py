"""Document 004 (Nguyen thesis), chapter 1: the critique of Safran–Shamir's Theorem 1 (NG-1.2).

``nguyen-rescaling``: SS-T1 asks, for a path theta(lambda) from theta_0 to theta_1, that
(1) Phi(theta_0) > Phi(0) and (2) for some eps > 0 every theta(lambda) has a c >= 0 with
Phi(c theta(lambda)) >= Phi(theta_0) + eps. With cross-entropy and a zero-error theta_1 the
thesis says (2) fails: near theta_1 every point theta_2 has zero error, and a positive rescaling
of a bias-free ReLU net only rescales its outputs, c^L F(theta_2), so the loss cannot rise.

Here bias-free ReLU nets are trained on three digit classes to zero error (theta_1); theta_0 is a
scaled random start with Phi(theta_0) > log m = Phi(0) (condition 1), and the points theta_2 of
the straight path theta_0 -> theta_1 with zero training error are rescaled by c on a grid in
[0, c_max]. The thesis writes Phi(c theta_2) <= Phi(theta_2) "for every c >= 0"; for c < 1 the
loss rises towards Phi(0) = log m (an erratum, measured). What survives, and is what (2) needs to
fail, is sup_{c >= 0} Phi(c theta_2) = Phi(0) = log m < Phi(theta_0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ...core import Landscape
from ...data import digits
from ...errors import InvalidParameterError
from ...nets import mlp
from ...record import Measurement
from ...train import fit
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2

SOURCE_004_CH1 = SOURCE_004_CH2.replace("ch. 2", "ch. 1")


# -------------------------------------------------------------------- nguyen-rescaling
@dataclass(frozen=True)
class RescalingParams(Params):
    """Parameters of ``nguyen-rescaling``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: digits of the classes 0, 1, 2 used (N; m = 3 classes).
        hidden: hidden widths of the bias-free ReLU net [64, *hidden, 3] (L = len(hidden) + 1).
        bias: give the net biases (outside the remark's hypothesis: rescaling no longer only
            rescales the output; the judge reports such runs as not covered).
        n_nets: trained nets (seeds).
        train_steps: L-BFGS evaluations of the cross-entropy training to zero error.
        start_scale: theta_0 is a random start multiplied by this factor, so that
            Phi(theta_0) > log m (condition 1 of SS-T1; checked on every run).
        n_lambda: points of the straight path theta_0 -> theta_1.
        c_max: the rescaling grid is c in [0, c_max] (c = 1/2 and 1 included).
        n_c: points of that rescaling grid.
        homogeneity_cs: the factors c at which F(c theta_2) is compared with c^L F(theta_2).
        rtol: relative tolerance of the homogeneity F(c theta) = c^L F(theta) and of the
            monotonicity of c -> Phi(c theta_2) (float64 rounding).
    """

    n_samples: int = 150
    hidden: tuple[int, ...] = (32, 16)
    bias: bool = False
    n_nets: int = 5
    train_steps: int = 400
    start_scale: float = 4.0
    n_lambda: int = 41
    c_max: float = 8.0
    n_c: int = 161
    rtol: float = 1e-10
    homogeneity_cs: tuple[float, ...] = (0.1, 0.5, 2.0, 8.0)
    QUICK = {"n_samples": 60, "hidden": (16,), "n_nets": 2, "train_steps": 150, "n_lambda": 21, "n_c": 81}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [3, 537]", "hidden": "nonempty, >= 1", "n_nets": ">= 1", "train_steps": ">= 1",
        "start_scale": "> 0", "n_lambda": ">= 2", "c_max": "> 1", "n_c": ">= 3", "rtol": "> 0",
        "homogeneity_cs": "nonempty, > 0", "bias": "one of True|False"}


def _three_classes(n: int, seed: int):
    ds = digits()
    keep = torch.nonzero(ds.y < 3).flatten()
    keep = keep[torch.randperm(len(keep), generator=torch.Generator().manual_seed(seed))[:n]]
    return ds.X[keep], ds.y[keep]


def measure(p: RescalingParams) -> Measurement:
    """Train bias-free ReLU nets to zero error and rescale the zero-error points of a path.

    Args:
        p: the parameters.

    Returns:
        One row per (net, path point): the training errors and smallest margin at theta_2,
        Phi(theta_2), Phi(theta_2 / 2), the largest Phi(c theta_2) over the c-grid, Phi at c = 0,
        log m, Phi(theta_0), whether c -> Phi(c theta_2) is non-increasing on the grid, and the
        largest relative deviation of F(c theta_2) from c^L F(theta_2).

    Raises:
        InvalidParameterError: if no net reaches zero training error (train longer).
    """
    X, y = _three_classes(p.n_samples, p.seed)
    m, L = 3, len(p.hidden) + 1
    cs = torch.unique(torch.cat([torch.linspace(0.0, p.c_max, p.n_c, dtype=torch.float64),
                                 torch.tensor([0.5, 1.0], dtype=torch.float64)]))
    rows, curves = [], {}
    for s in progress(range(p.n_nets), "nets"):
        land = Landscape(mlp([64, *p.hidden, m], "relu", bias=p.bias, seed=p.seed * 100 + s), (X, y), loss="ce")
        theta1 = fit(land, method="lbfgs", lr=1.0, steps=p.train_steps, record_every=p.train_steps,
                     progress=False).theta
        theta0 = p.start_scale * land.theta0
        phi0 = float(land.loss(theta0))
        with torch.no_grad():
            for lam in np.linspace(0.0, 1.0, p.n_lambda):
                th2 = (1 - lam) * theta0 + lam * theta1
                out = land.outputs(th2)
                true = out.gather(1, y[:, None])
                other = out.masked_fill(torch.nn.functional.one_hot(y, m).bool(), -math.inf).amax(1, keepdim=True)
                margin = float((true - other).min())
                phis = land.losses(cs[:, None] * th2[None, :], progress=False)
                homog = max(float((land.outputs(c * th2) - c ** L * out).abs().max())
                            / max(float(out.abs().max()) * c ** L, 1e-300) for c in p.homogeneity_cs)
                steps = phis[1:] - phis[:-1]
                rows.append({"net": s, "lam": float(lam), "L": L, "bias_free": not p.bias,
                             "train_errors": int((out.argmax(1) != y).sum()), "margin_min": margin,
                             "phi_theta2": float(land.loss(th2)),
                             "phi_half": float(phis[int(torch.nonzero(cs == 0.5)[0])]),
                             "phi_c0": float(phis[0]), "phi_sup_c": float(phis.max()),
                             "argmax_c": float(cs[int(phis.argmax())]), "log_m": math.log(m),
                             "phi_theta0": phi0,
                             "max_rise": float((steps / phis[:-1].abs().clamp_min(1e-300)).max()),
                             "homog_rel_err": homog})
                curves[(s, round(float(lam), 6))] = (cs.numpy(), phis.numpy())
    table = pd.DataFrame(rows)
    if not (table.train_errors == 0).any():
        raise InvalidParameterError("nguyen-rescaling: no path point has zero training error; raise "
                                    f"train_steps (now {p.train_steps}) or n_lambda.")
    return Measurement(table, {"m": m, "L": L, "N": int(len(y))}, extras={"curves": curves})


def judge(m: Measurement, p: RescalingParams) -> Verdict:
    """NG-1.2 on the zero-error points theta_2 of bias-free ReLU nets whose theta_0 meets condition 1.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: the outputs rescale as c^L, c -> Phi(c theta_2) does not increase, its sup is
        Phi(0) = log m, so condition 2 of SS-T1 fails at every theta_2 (evidence); the thesis'
        "for every c >= 0" measured at c = 1/2 (erratum).
    """
    verdict = Verdict()
    t = m.table
    bias_free = t.bias_free.astype(bool)
    zero = t.train_errors == 0
    cond1 = t.phi_theta0 > t.log_m
    verdict.hypothesis("bias-free ReLU net (positive homogeneity)", f"{int(bias_free.sum())} of {len(t)} rows",
                       "no biases", bool(bias_free.any()))
    verdict.hypothesis("theta_2 has zero training error (a point of the path near theta_1)",
                       f"{int(zero.sum())} of {len(t)} path points", "0 errors", bool(zero.any()),
                       note=f"zero-error points from lambda = {float(t[zero].lam.min()):.3g}" if zero.any() else "")
    verdict.hypothesis("condition 1 of SS-T1: Phi(theta_0) > Phi(0) = log m",
                       f"{int(cond1[t.lam == 0].sum())} of {int((t.lam == 0).sum())} nets", "> log m",
                       bool(cond1.any()),
                       note=f"Phi(theta_0) from {float(t.phi_theta0.min()):.4g}, log m = {float(t.log_m.iloc[0]):.4g}")
    c = t[bias_free & zero & cond1]
    names = ("outputs at c theta_2 = c^L times those at theta_2 (c in homogeneity_cs)",
             "c -> Phi(c theta_2) is non-increasing on [0, c_max]",
             "sup_c Phi(c theta_2) = Phi(0) = log m",
             "condition 2 of SS-T1 fails at every zero-error theta_2: sup_c Phi(c theta_2) < Phi(theta_0)")
    if c.empty:
        for name in names:
            verdict.not_covered(name, "NG-1.2", "no zero-error point of a bias-free net with condition 1")
        return verdict
    homog = float(c.homog_rel_err.max())
    verdict.add(names[0], homog, 0.0, p.rtol, homog <= p.rtol,
                note=f"{len(c)} points of {c.net.nunique()} nets; largest relative deviation, by forward passes",
                kind="evidence")
    rise = float(c.max_rise.max())
    verdict.add(names[1], rise, "<= 0", p.rtol, rise <= p.rtol,
                note="largest relative rise between neighbouring c of the grid (sampled on the grid; exact by the "
                     "homogeneity above and positive margins: each term log(1 + sum e^{-c^L margin}) decreases)",
                kind="evidence")
    dev = float(((c.phi_sup_c - c.log_m).abs() / c.log_m).max())
    verdict.add(names[2], dev, 0.0, p.rtol, dev <= p.rtol and bool((c.argmax_c == 0).all()),
                note=f"sup attained at c = {sorted(set(c.argmax_c))}; Phi at c = 0 is the uniform softmax",
                kind="evidence")
    gap = c.phi_theta0 - c.phi_sup_c
    verdict.add(names[3], f"{int((gap > 0).sum())}/{len(c)}", "all", None, bool((gap > 0).all()),
                note=f"smallest Phi(theta_0) - sup_c Phi(c theta_2) = {float(gap.min()):.4g} > 0: no c reaches "
                     "Phi(theta_0) + eps, whatever eps > 0", kind="evidence")
    rise_half = c.phi_half - c.phi_theta2
    verdict.add("erratum: Phi(c theta_2) <= Phi(theta_2) fails for c < 1 (thesis: 'for every c >= 0')",
                float(rise_half.min()), "> 0 at c = 1/2", None, bool((rise_half > 0).all()),
                note=f"Phi(theta_2 / 2) - Phi(theta_2) from {float(rise_half.min()):.4g} to "
                     f"{float(rise_half.max()):.4g}; the statement holds for c >= 1, and sup over c >= 0 is "
                     "Phi(0) = log m < Phi(theta_0), which still breaks condition 2 (CLAIMS NG-1.2)",
                kind="erratum")
    return verdict


def draw(m: Measurement, p: RescalingParams) -> dict:
    """Phi(c theta_2) against c at a few zero-error points of the first net.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"rescaling": figure}``.
    """
    t = m.table
    fig, (ax,) = figure()
    first = t[(t.net == t.net.min()) & (t.train_errors == 0)]
    for lam in first.lam.iloc[:: max(1, len(first) // 4)]:
        cs, phis = m.extras["curves"][(int(t.net.min()), round(float(lam), 6))]
        ax.plot(cs, phis, lw=1, label=f"lambda = {lam:.2f}")
    ax.axhline(float(t.log_m.iloc[0]), color="k", ls="--", lw=0.8, label="log m = Phi(0)")
    ax.axhline(float(first.phi_theta0.iloc[0]) if len(first) else float(t.phi_theta0.iloc[0]), color="r", ls=":",
               lw=0.8, label="Phi(theta_0)")
    ax.set(xlabel="c", ylabel="Phi(c theta_2)", title="NG-1.2: rescaling a zero-error ReLU net")
    ax.legend(fontsize=7)
    return {"rescaling": fig}


nguyen_rescaling = experiment(
    "nguyen-rescaling", source=SOURCE_004_CH1 + ", §1.2 on Safran & Shamir (2016), Thm 1",
    claim="NG-1.2: with cross-entropy, rescaling a zero-error bias-free ReLU net never raises the loss "
          "above Phi(0) = log m < Phi(theta_0), so condition 2 of SS-T1 fails near a zero-error theta_1",
    params=RescalingParams, judge=judge, draw=draw)(measure)
