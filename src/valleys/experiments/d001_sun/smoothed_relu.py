"""Document 001 (Sun et al. survey): the smoothed ReLU of Section 6 (SUN-Sec6).

``sun-smoothed-relu``: \\(r(t) = 0\\) for \\(t \\le 0\\) and \\(\\sqrt{1+t^2} - 1\\) for \\(t > 0\\), the
library's ``smoothed_relu`` activation. The survey calls it smooth at 0. Measured on the
library's function: both one-sided first derivatives tend to 0 (\\(r\\) is \\(C^1\\)), the
one-sided second derivatives tend to 1 on the right and 0 on the left (\\(r\\) is not \\(C^2\\):
the erratum, with its numbers), and \\(r(t) - (t - 1) = 1/(\\sqrt{1+t^2} + t) \\to 0\\).

The derivatives are measured twice: by one-sided finite differences of the values alone and
by autograd, and compared with the closed forms \\(r'(h) = h/\\sqrt{1+h^2}\\),
\\(r''(h) = (1+h^2)^{-3/2}\\) (\\(h > 0\\)), computed by separate code. Each row records its step
\\(h\\) or abscissa \\(t\\): the one-sided limits are statements about \\(h \\to 0\\) and the asymptote
about \\(t \\to \\infty\\), so rows with \\(h >\\) ``h_max`` or \\(t <\\) ``t_min`` are not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ...nets import get_activation
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001


@dataclass(frozen=True)
class SmoothedReluParams(Params):
    """Parameters of ``sun-smoothed-relu``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        steps: one-sided steps h of the derivative measurements.
        h_max: rows with h <= h_max are in the one-sided-limit regime (covered).
        abscissae: points t of the asymptote measurement.
        t_min: rows with t >= t_min are in the asymptotic regime (covered).
        fd_tol: absolute tolerance of the finite-difference limits: r'(0+-) within fd_tol of 0
            and r''(0+) within fd_tol of 1 at the smallest covered step (the truncation error
            of the differences is O(h); rounding is O(eps/h^2)).
        closed_tol: relative tolerance of autograd against the closed forms (float64).
        tail_tol: relative tolerance of 2t (r(t) - (t - 1)) against its closed form
            2t/(sqrt(1 + t^2) + t) (cancellation in sqrt(1 + t^2) - t costs about eps t^2).
    """

    steps: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
    h_max: float = 1e-2
    abscissae: tuple[float, ...] = (10.0, 1e2, 1e3)
    t_min: float = 10.0
    fd_tol: float = 1e-3
    closed_tol: float = 1e-12
    tail_tol: float = 1e-8
    QUICK: ClassVar[dict] = {}
    LIMITS: ClassVar[dict[str, str]] = {"steps": "nonempty, > 0", "h_max": "> 0", "abscissae": "nonempty, > 0",
                                        "t_min": "> 0", "fd_tol": "> 0", "closed_tol": "> 0", "tail_tol": "> 0"}


def _autograd(phi, t: float) -> tuple[float, float]:
    """r'(t) and r''(t) by autograd (float64)."""
    x = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    (d1,) = torch.autograd.grad(phi(x), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1, x) if d1.requires_grad else (torch.zeros((), dtype=torch.float64),)
    return float(d1.detach()), float(d2.detach())


def measure(p: SmoothedReluParams) -> Measurement:
    """One-sided finite differences and autograd derivatives at +-h, and the tail gap at t.

    Args:
        p: the parameters.

    Returns:
        The measurement: rows ``part = "derivative"`` (side, h, finite-difference and autograd
        first and second derivatives, closed forms) and ``part = "tail"`` (t, r(t) - (t - 1),
        its closed form); the summary holds the activation's declared smoothness and curvature.
    """
    act = get_activation("smoothed_relu")

    def r(t: float) -> float:
        return float(act(torch.tensor(t, dtype=torch.float64)))

    rows = []
    for h in p.steps:
        for side, s in (("right", 1.0), ("left", -1.0)):
            fd1 = (r(s * h) - r(0.0)) / (s * h)
            fd2 = (r(2 * s * h) - 2 * r(s * h) + r(0.0)) / h ** 2
            ad1, ad2 = _autograd(act, s * h)
            closed1 = h / np.sqrt(1 + h * h) if s > 0 else 0.0
            closed2 = (1 + h * h) ** -1.5 if s > 0 else 0.0
            rows.append({"part": "derivative", "side": side, "h": h, "fd_first": fd1, "fd_second": fd2,
                         "autograd_first": ad1, "autograd_second": ad2, "closed_first": closed1,
                         "closed_second": closed2})
    for t in p.abscissae:
        rows.append({"part": "tail", "t": t, "gap": r(t) - (t - 1.0), "closed_gap": 1.0 / (np.sqrt(1 + t * t) + t)})
    return Measurement(pd.DataFrame(rows), {"declared_smoothness": act.smoothness,
                                            "declared_curvature": act.curvature})


def judge(m: Measurement, p: SmoothedReluParams) -> Verdict:
    """C^1 at 0 (evidence), the jump of r'' at 0 (erratum of "smooth"), the asymptote t - 1
    (evidence), autograd against the closed forms and the declared smoothness (consistency).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The verdict.
    """
    t = m.table
    verdict = Verdict()
    der = t[(t["part"] == "derivative") & (t["h"] <= p.h_max)]
    tail = t[(t["part"] == "tail") & (t["t"] >= p.t_min)]
    verdict.hypothesis(f"one-sided steps h <= {p.h_max:g} (the limits h -> 0)",
                       f"{len(der)} of {int((t['part'] == 'derivative').sum())} rows", "all", not der.empty)
    verdict.hypothesis(f"abscissae t >= {p.t_min:g} (the limit t -> infinity)",
                       f"{len(tail)} of {int((t['part'] == 'tail').sum())} rows", "all", not tail.empty)
    names = ("r is C^1 at 0: one-sided finite-difference slopes r'(0+), r'(0-) -> 0",
             "r is not C^2 at 0: one-sided second differences r''(0+) = 1, r''(0-) = 0",
             "r(t) - (t - 1) -> 0: 2t (r(t) - (t - 1)) against 2t/(sqrt(1 + t^2) + t)")
    if der.empty:
        verdict.not_covered(names[0], "0 on both sides", note=f"no step h <= {p.h_max:g}")
        verdict.not_covered(names[1], "1 and 0", note=f"no step h <= {p.h_max:g}", kind="erratum")
    else:
        h0 = der["h"].min()
        at = der[der["h"] == h0].set_index("side")
        slopes = [float(at.loc["right", "fd_first"]), float(at.loc["left", "fd_first"])]
        verdict.add(names[0], slopes, [0.0, 0.0], p.fd_tol, max(map(abs, slopes)) <= p.fd_tol,
                    note=f"at h = {h0:g} from values alone (truncation O(h): r'(h) ~ h/2 on the right); every "
                         f"covered step: right slopes {[round(v, 8) for v in der[der.side == 'right'].fd_first]}",
                    kind="evidence")
        second = [float(at.loc["right", "fd_second"]), float(at.loc["left", "fd_second"])]
        verdict.add(names[1], second, [1.0, 0.0], p.fd_tol,
                    abs(second[0] - 1.0) <= p.fd_tol and abs(second[1]) <= p.fd_tol,
                    note=f"at h = {h0:g}: the jump of r'' at 0 is {second[0] - second[1]:.6f}; the survey calls r "
                         "smooth at 0, true only in the C^1 sense (the erratum is reproduced when the jump is 1)",
                    kind="erratum")
        err = max(float((der["autograd_first"] - der["closed_first"]).abs().max()),
                  float((der["autograd_second"] - der["closed_second"]).abs().max()))
        verdict.add("autograd r'(+-h), r''(+-h) against the closed forms h/sqrt(1+h^2), (1+h^2)^(-3/2) and 0",
                    err, 0.0, p.closed_tol, err <= p.closed_tol, kind="consistency")
    if tail.empty:
        verdict.not_covered(names[2], "1 / (sqrt(1 + t^2) + t)", note=f"no abscissa t >= {p.t_min:g}")
    else:
        rel = ((tail["gap"] - tail["closed_gap"]).abs() / tail["closed_gap"]).max()
        verdict.add(names[2], float(rel), 0.0, p.tail_tol, float(rel) <= p.tail_tol,
                    note="gaps " + ", ".join(f"t = {r.t:g}: {r.gap:.6e}" for r in tail.itertuples())
                         + " (1/(2t) to leading order)", kind="evidence")
    s, c = m.summary["declared_smoothness"], m.summary["declared_curvature"]
    verdict.add("the activation declares smoothness 1 (C^1) and curvature sup|r''| = 1", [s, c], [1, 1.0], None,
                s == 1 and c == 1.0, kind="consistency")
    return verdict


def draw(m: Measurement, p: SmoothedReluParams) -> dict:
    """r, r' and r'' around 0 (autograd), showing the jump of r''.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        ``{"derivatives": figure}``.
    """
    act = get_activation("smoothed_relu")
    ts = np.linspace(-2.0, 2.0, 401)
    d = np.array([_autograd(act, float(v)) for v in ts])
    fig, (ax,) = figure()
    ax.plot(ts, act(torch.as_tensor(ts)).numpy(), label="r(t)")
    ax.plot(ts, d[:, 0], label="r'(t)")
    ax.plot(ts, d[:, 1], label="r''(t): jumps from 0 to 1 at 0")
    ax.set(xlabel="t", title="SUN-Sec6: the smoothed ReLU is C^1, not C^2")
    ax.legend(fontsize=7)
    return {"derivatives": fig}


sun_smoothed_relu = experiment(
    "sun-smoothed-relu", source=SOURCE_001 + ", Section 6 (smoothed ReLU)",
    claim="SUN-Sec6: r(t) = sqrt(1 + t^2) - 1 (t > 0), 0 otherwise, is C^1 at 0 but r'' jumps from 0 to 1 "
          "(not smooth), and r(t) - (t - 1) -> 0",
    params=SmoothedReluParams, judge=judge, draw=draw)(measure)
