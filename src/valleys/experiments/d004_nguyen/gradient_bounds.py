"""Document 004 (Nguyen thesis), chapter 2: one wide layer makes the features linearly independent.

``nguyen-gradient-bounds``: NG-L2.4.9 on random pyramidal-top instances (and NG-T2.4.10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...errors import InvalidParameterError
from ...expressivity.features import fc_forward
from ...literature.nguyen2019 import backprop_deltas, gradient_bounds, zero_loss_construction
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2


# ---------------------------------------------------------------- nguyen-gradient-bounds
@dataclass(frozen=True)
class GradientBoundsParams(Params):
    """Parameters of ``nguyen-gradient-bounds``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_instances: random instances (sizes, weights, targets).
        max_samples: N is drawn in [3, max_samples].
        wide_extra: the wide layer has n_k = N + e with e drawn in [wide_extra[0], wide_extra[1]];
            Assumption 2.4.7 needs n_k >= N (e >= 0): a negative lower end draws instances outside
            it, which the judge reports as not covered.
        top_order: ``"pyramidal"``: the top widths are sorted, n_{k+1} >= ... >= n_L (Assumption
            2.4.7); ``"random"``: drawn in random order (instances outside it when unsorted).
        slack: relative slack allowed on each inequality (>= -slack).
        grad_rtol: relative agreement of the backprop recursion with autograd.
        zero_tol: gradient norm counted as zero at the NG-A2 zero-loss points (NG-T2.4.10).
    """

    n_instances: int = 1000
    max_samples: int = 12
    wide_extra: tuple[int, ...] = (0, 4)
    top_order: str = "pyramidal"
    slack: float = 1e-12
    grad_rtol: float = 1e-10
    zero_tol: float = 1e-7
    QUICK = {"n_instances": 150}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_instances": ">= 1", "max_samples": ">= 3", "wide_extra": "nonempty, >= -2",
        "top_order": "one of pyramidal|random",        "slack": ">= 0", "grad_rtol": "> 0", "zero_tol": "> 0"}

    def validate(self) -> None:
        """``wide_extra`` is a range (lo, hi) with lo <= hi.

        Raises:
            InvalidParameterError: when it is not.
        """
        lo_hi = self.wide_extra
        if len(lo_hi) != 2 or lo_hi[0] > lo_hi[1]:
            raise InvalidParameterError(f"parameter wide_extra must be two integers lo <= hi "
                                        f"(n_k = N + e, e in [lo, hi]). Got {lo_hi}.")


def measure(p: GradientBoundsParams) -> Measurement:
    """Both bounds and the autograd gradient on random instances, the erratum's shapes and the
    gradient at NG-A2 zero-loss points.

    Args:
        p: the parameters.

    Returns:
        One row per random instance (sizes, both bounds, the autograd and backprop gradient
        norms and the relative slacks); the summary holds the erratum's shapes and the
        gradient norms at the NG-A2 zero-loss points.
    """
    gen = check_generator(p.seed)
    rows = []

    def randint(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=gen))

    for i in progress(range(p.n_instances), "instances"):
        act = ("sigmoid", "softplus")[i % 2]
        N, d = randint(3, p.max_samples), randint(2, 6)
        L = randint(2, 4)
        k = randint(1, L - 1)
        widths = [d] + [randint(2, 6) for _ in range(k - 1)] + [N + randint(*p.wide_extra)]
        top = [randint(1, widths[-1]) for _ in range(L - k)]
        if p.top_order == "pyramidal":
            top = sorted(top, reverse=True)
        widths += top
        X = torch.randn(N, d, generator=gen, dtype=torch.float64)
        Y = torch.randn(N, widths[-1], generator=gen, dtype=torch.float64)
        Ws = [torch.randn(a, b, generator=gen, dtype=torch.float64) / math.sqrt(a)
              for a, b in zip(widths[:-1], widths[1:], strict=True)]
        bs = [0.5 * torch.randn(b, generator=gen, dtype=torch.float64) for b in widths[1:]]
        gb = gradient_bounds(X, Y, Ws, bs, act, k)
        # independent gradient: autograd of 1/2 ||F_L - Y||^2 w.r.t. U_{k+1}
        W = Ws[k].clone().requires_grad_(True)
        Fs = fc_forward(X, Ws[:k] + [W] + Ws[k + 1:], bs, act)[1]
        g_auto = torch.autograd.grad(0.5 * ((Fs[-1] - Y) ** 2).sum(), W)[0]
        g = float(g_auto.norm())
        rows.append({"instance": i, "activation": act, "N": N, "k": k, "L": L, "widths": str(widths),
                     "n_k": widths[k],
                     "pyramidal": all(a >= b for a, b in zip(widths[k + 1:-1], widths[k + 2:], strict=True)),
                     "lower": gb.lower, "grad_norm": g, "grad_norm_backprop": gb.grad_norm, "upper": gb.upper,
                     "lower_slack": (g - gb.lower) / g, "upper_slack": (gb.upper - g) / g})
    t = pd.DataFrame(rows)
    # erratum: the proof's F_L^T Delta_{k+1} has the wrong shape
    X = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    Ws = [torch.randn(3, 6, generator=gen, dtype=torch.float64), torch.randn(6, 2, generator=gen, dtype=torch.float64)]
    bs = [torch.zeros(6, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)]
    Gs, Fs = fc_forward(X, Ws, bs, "sigmoid")
    deltas = backprop_deltas(Ws, Gs, Fs, torch.zeros(5, 2, dtype=torch.float64), "sigmoid")
    printed = list((Fs[-1].T @ deltas[1]).shape)
    # NG-T2.4.10: zero loss => zero gradient (at NG-A2 points)
    y = torch.randint(0, 3, (8,), generator=gen)
    y[:3] = torch.arange(3)
    Xz = torch.randn(8, 4, generator=gen, dtype=torch.float64)
    gz = []
    for act in ("sigmoid", "softplus"):
        z = zero_loss_construction(Xz, y, [4, 10, 5, 3], 1, act, seed=p.seed)
        Y = z.targets
        W = z.weights[1].clone().requires_grad_(True)
        Fs = fc_forward(Xz, [z.weights[0], W, z.weights[2]], z.biases, act)[1]
        gz.append(float(torch.autograd.grad(0.5 * ((Fs[-1] - Y) ** 2).sum(), W)[0].norm()))
    return Measurement(t, {"zero_loss_grad_norms": gz, "erratum_printed_shape": printed,
                           "erratum_weight_shape": list(Ws[1].shape)})


def _covered(t: pd.DataFrame, p: GradientBoundsParams, verdict: Verdict) -> pd.DataFrame:
    """The instances that meet Assumption 2.4.7's widths (n_k >= N, n_{k+1} >= ... >= n_L),
    read from the widths each row records; the hypotheses go on ``verdict``. The note says how
    the instances outside fared (the lemma says nothing about them)."""
    wide = t.n_k >= t.N
    pyramidal = t.pyramidal.astype(bool)
    verdict.hypothesis("Assumption 2.4.7: wide layer n_k >= N", f"{int(wide.sum())} of {len(t)} instances",
                       "n_k >= N", bool(wide.any()), note=f"smallest n_k - N: {int((t.n_k - t.N).min())}")
    verdict.hypothesis("Assumption 2.4.7: pyramidal top n_{k+1} >= ... >= n_L",
                       f"{int(pyramidal.sum())} of {len(t)} instances", "pyramidal", bool(pyramidal.any()))
    outside = t[~(wide & pyramidal)]
    if len(outside):
        verdict.hypothesis("instances outside Assumption 2.4.7 (not counted)", f"{len(outside)} of {len(t)}",
                           "none", False,
                           note=f"{int((outside.lower_slack < -p.slack).sum())} of them below the lower bound, "
                                f"{int((outside.upper_slack < -p.slack).sum())} above the upper bound")
    return t[wide & pyramidal]


def judge(m: Measurement, p: GradientBoundsParams) -> Verdict:
    """Both inequalities on the instances that meet Assumption 2.4.7; the recursion against
    autograd, the erratum, and NG-T2.4.10's two directions as consistency.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: Assumption 2.4.7 per instance; both inequalities on the covered ones
        (evidence); the recursion, NG-T2.4.10's directions (consistency) and the erratum.
    """
    verdict = Verdict()
    t = _covered(m.table, p, verdict)
    if t.empty:
        for name in ("lower bound <= ||grad||", "||grad|| <= upper bound"):
            verdict.not_covered(name, ">= -slack", "no instance meets Assumption 2.4.7 (n_k >= N, pyramidal top)")
    else:
        verdict.add("lower bound <= ||grad|| (min relative slack)", float(t.lower_slack.min()), ">= -slack",
                    p.slack, bool((t.lower_slack >= -p.slack).all()),
                    note=f"{len(t)} instances; the gradient by autograd, independent of the bound's factors",
                    kind="evidence")
        verdict.add("||grad|| <= upper bound (min relative slack)", float(t.upper_slack.min()), ">= -slack",
                    p.slack, bool((t.upper_slack >= -p.slack).all()), kind="evidence")
    every = m.table
    rel = float(((every.grad_norm - every.grad_norm_backprop).abs() / every.grad_norm).max())
    verdict.add("backprop recursion (Lemma 2.6.2, with F_k^T Delta_{k+1}) = autograd", rel, 0.0, p.grad_rtol,
                rel <= p.grad_rtol, kind="consistency")
    printed, shape = tuple(m.summary["erratum_printed_shape"]), tuple(m.summary["erratum_weight_shape"])
    verdict.add("erratum: the proof's F_L^T Delta_{k+1} has shape (m, n_{k+1}), not that of U_{k+1}",
                printed, shape, None, printed != shape,
                note="the correct expression is F_k^T Delta_{k+1} (CLAIMS NG-L2.4.9 [discrepancy])",
                kind="erratum")
    gz = m.summary["zero_loss_grad_norms"]
    verdict.add("NG-T2.4.10: ||grad_{U_{k+1}} Phi|| at NG-A2 zero-loss points", max(gz), 0.0, p.zero_tol,
                max(gz) <= p.zero_tol,
                note="consistency: the gradient F_k^T Delta_{k+1} is linear in the residual F_L - Y, so it "
                     "vanishes at zero loss by the chain rule, whatever the widths", kind="consistency")
    if not t.empty:
        positive = bool((t.lower > 0).all())
        verdict.add("NG-T2.4.10: at random points the lower bound (and the gradient) are > 0", positive, True,
                    None, positive,
                    note="consistency: sigma_min of generic Gaussian draws and sigma' of sigmoid/softplus are "
                         "positive in float64 at any such draw; it cannot fail at random points", kind="consistency")
    return verdict


def draw(m: Measurement, p: GradientBoundsParams) -> dict:
    """Both bounds against the autograd gradient norm.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"bounds": figure}``.
    """
    t = m.table
    fig, (ax,) = figure()
    ax.loglog(t.grad_norm, t.lower, ".", ms=3, label="lower bound")
    ax.loglog(t.grad_norm, t.upper, ".", ms=3, label="upper bound")
    lim = [float(t.grad_norm.min()), float(t.grad_norm.max())]
    ax.plot(lim, lim, "k-", lw=0.8, label="||grad||")
    ax.set(xlabel="||grad_{U_{k+1}} Phi||_F (autograd)", ylabel="bound", title="NG-L2.4.9")
    ax.legend(fontsize=7)
    return {"bounds": fig}


nguyen_gradient_bounds = experiment(
    "nguyen-gradient-bounds", source=SOURCE_004_CH2 + ", Lemma 2.4.9 and Thm 2.4.10",
    claim="NG-L2.4.9: sigma_min(F_k) prod(...) ||F_L - Y|| <= ||grad_{U_{k+1}} Phi|| <= "
          "sigma_max(F_k) prod(...) ||F_L - Y|| on random pyramidal-top instances; "
          "NG-T2.4.10: the gradient vanishes at zero loss",
    params=GradientBoundsParams, judge=judge, draw=draw)(measure)
