"""Sun et al. (survey 001): deep linear networks and the wide-network PL inequality.

``sun-ntk-pl`` (SUN-C5.1): along full-batch GD on two-layer tanh nets,
||grad F||^2 >= 4 lambda_min(K) F at every iterate (F = sum of squared residuals),
lambda_min(K) stays positive, F reaches 1e-10, and the relative drift of lambda_min(K)
shrinks as the width grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.stats
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

from ... import nets
from ...core import Landscape
from ...curvature import ntk_gram
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict

# ------------------------------------------------------------------------ sun-ntk-pl


@dataclass(frozen=True)
class NTKParams(Params):
    """Parameters of ``sun-ntk-pl``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        widths: hidden widths m of f(x) = v^T tanh(W x) (``valleys.nets.two_layer``).
        n_points: number of samples n.
        d_in: input dimension (x ~ N(0, I)); targets y ~ N(0, 1).
        lr_scale: GD step lr_scale / lambda_max(K(theta_0)). The linear rate of (v) needs
            eta lambda_max(K_k) < 1 along GD; lambda_max grows during training of narrow nets,
            and at 0.9 it crossed 1 (m = 100 then converged 3x slower than the rate), so 0.5.
        rate_tol: pass (v) if log(F_K / F_0) >= (1 - rate_tol) times the PL rate
            -4 eta sum_k lambda_min(K_k) in magnitude, at every width.
        max_steps: largest number of GD steps per width.
        target: stop when F = sum_i (f(x_i) - y_i)^2 < target.
        slack_tol: pass if (||grad F||^2 - 4 lambda_min(K) F) / ||grad F||^2 >= -slack_tol.
        spearman_max: pass (iv) if the rank correlation of width and lambda_min drift is
            at most this, and the widest net drifts less than the narrowest.
    """

    widths: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000)
    n_points: int = 20
    d_in: int = 10
    lr_scale: float = 0.5
    rate_tol: float = 0.1
    max_steps: int = 6000
    target: float = 1e-10
    slack_tol: float = 1e-10
    spearman_max: float = -0.7
    QUICK: ClassVar[dict] = {"widths": (25, 50, 100, 200), "max_steps": 4000}
    LIMITS: ClassVar[dict[str, str]] = {"widths": "nonempty, >= 1", "n_points": ">= 1", "d_in": ">= 1",
                                        "lr_scale": "> 0, < 2", "rate_tol": "in [0, 1]", "max_steps": ">= 1",
                                        "target": "> 0", "slack_tol": ">= 0", "spearman_max": "in [-1, 1]"}


def measure(p: NTKParams) -> Measurement:
    """Full-batch GD on two-layer tanh nets of several widths, tracking K at every iterate.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    gen = torch.Generator().manual_seed(p.seed)
    X = torch.randn(p.n_points, p.d_in, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n_points, generator=gen, dtype=torch.float64)
    traces = [_ntk_trace(p, m, X, Y) for m in p.widths]
    table = pd.concat(traces, ignore_index=True)
    return Measurement(table, {"summary": _ntk_summary(table).to_dict(orient="records")})


def judge(m: Measurement, p: NTKParams) -> Verdict:
    """The PL inequality, lambda_min > 0, F -> 0, the PL rate and the drift, from the GD traces
    of the widths where GD runs in its stable regime (eta lambda_max(K_k) < 1 at every step,
    the hypothesis of the linear rate); the other widths are left out.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    s = _ntk_summary(m.table)
    stable = s.max_eta_lambda_max < 1.0
    verdict = Verdict()
    verdict.hypothesis("eta lambda_max(K_k) < 1 at every GD step (the rate's hypothesis)",
                       f"{int(stable.sum())} of {len(s)} widths", "all", bool(stable.any()),
                       note="max eta lambda_max by width: " + ", ".join(
                           f"{int(r.width)}: {r.max_eta_lambda_max:.3g}" for r in s.itertuples()))
    if not stable.any():
        for name in ("(ii) min lambda_min(K) along GD", "(iii) final F", "(v) PL rate",
                     "(iv) drift shrinks with width"):
            verdict.not_covered(name, "as SUN-C5.1", note="no width where GD is stable")
        return verdict
    verdict.checks.extend(_ntk_verdict(p, s[stable].reset_index(drop=True)).checks)
    return verdict


def draw(m: Measurement, p: NTKParams) -> dict:
    """The training loss and the PL inequality per iterate, and the drift against the width.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``pl_inequality``, ``lambda_drift``.
    """
    return {"pl_inequality": _ntk_figure(m.table), "lambda_drift": _drift_figure(_ntk_summary(m.table))}


run_ntk = experiment(
    "sun-ntk-pl", source="001 Sun et al., §5 Claim 5.1 (wide networks, NTK Gram)",
    claim="SUN-C5.1: ||grad F||^2 >= 4 lambda_min(K) F along GD, lambda_min(K) > 0, "
          "F -> 0, and lambda_min(K) drifts less as the width grows",
    params=NTKParams, judge=judge, draw=draw)(measure)


def _ntk_trace(p: NTKParams, m: int, X, Y) -> pd.DataFrame:
    land = Landscape(nets.two_layer(m, p.d_in, "tanh", seed=p.seed + m), (X, Y), loss="mse",
                     reduction="sum")
    theta = land.theta0.clone()
    lr = p.lr_scale / float(torch.linalg.eigvalsh(ntk_gram(land, theta))[-1])
    rows = []
    for k in range(p.max_steps + 1):
        F, g = land.loss_and_grad(theta)
        eig = torch.linalg.eigvalsh(ntk_gram(land, theta))
        g2 = float(g @ g)
        rows.append((k, float(F), g2, float(eig[0]), float(eig[-1])))
        if float(F) < p.target or not torch.isfinite(F):
            break
        theta = theta - lr * g
    frame = pd.DataFrame(rows, columns=["step", "F", "grad_sq", "lambda_min", "lambda_max"])
    # The linear rate the theory gives: the flow dF/dt = -||grad F||^2 <= -4 lambda_min(K) F
    # decays like exp(-4 lambda_min t); one GD step is t = eta (for eta lambda_max(K) < 1 every
    # mode of the linearised residual contracts at least that fast while 4 eta lambda_min is small).
    frame["log_rate"] = -4.0 * lr * frame.lambda_min
    frame["bound"] = 4.0 * frame.lambda_min * frame.F
    frame["slack"] = (frame.grad_sq - frame.bound) / frame.grad_sq.where(frame.grad_sq > 0, 1.0)
    return frame.assign(width=m, lr=lr)


def _ntk_summary(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for m, t in table.groupby("width"):
        lam0 = float(t.lambda_min.iloc[0])
        rows.append({"width": m, "steps": int(t.step.iloc[-1]), "final_F": float(t.F.iloc[-1]),
                     "min_slack": float(t.slack.min()), "min_lambda": float(t.lambda_min.min()),
                     "lambda0": lam0, "ratio": float(t.lambda_min.min()) / lam0,
                     "drift": float((t.lambda_min - lam0).abs().max()) / lam0,
                     "log_decay": float(np.log(t.F.iloc[-1] / t.F.iloc[0])),
                     "log_rate_bound": float(t.log_rate.iloc[:-1].sum()),
                     "rate_ratio": float(np.log(t.F.iloc[-1] / t.F.iloc[0]) / t.log_rate.iloc[:-1].sum())
                     if len(t) > 1 else float("nan"),
                     "max_eta_lambda_max": float((t.lr * t.lambda_max).max())})
    return pd.DataFrame(rows).sort_values("width", ignore_index=True)


def _ntk_verdict(p: NTKParams, s: pd.DataFrame) -> Verdict:
    v = Verdict()
    worst = float(s.min_slack.min())
    v.add("(i) min relative slack of ||grad F||^2 - 4 lambda_min(K) F", worst, ">= 0", p.slack_tol,
          worst >= -p.slack_tol, note="over every iterate of every width", kind="consistency")
    low = float(s.min_lambda.min())
    v.add("(ii) min lambda_min(K) along GD", low, "> 0", None, low > 0.0, kind="evidence")
    final = float(s.final_F.max())
    v.add("(iii) final F (max over widths)", final, f"< {p.target:g}", p.target, final < p.target,
          note="steps: " + ", ".join(f"m={int(r.width)}: {int(r.steps)}" for r in s.itertuples()), kind="evidence")
    ratio = float(s.rate_ratio.min())
    v.add("(v) F decays at least at the PL rate: log(F_K/F_0) / (-4 eta sum_k lambda_min(K_k)), "
          "min over widths", ratio, f">= {1 - p.rate_tol:g}", p.rate_tol,
          bool(np.isfinite(ratio)) and ratio >= 1.0 - p.rate_tol,
          note="by width: " + ", ".join(f"m={int(r.width)}: {r.rate_ratio:.3f} (max eta lambda_max "
                                        f"{r.max_eta_lambda_max:.2f})" for r in s.itertuples())
               + "; the rate assumes eta lambda_max(K_k) < 1", kind="evidence")
    rho = float(scipy.stats.spearmanr(s.width, s.drift)[0]) if len(s) > 2 else -1.0
    slope = float(np.polyfit(np.log(s.width), np.log(s.drift.clip(lower=1e-300)), 1)[0])
    shrinks = float(s.drift.iloc[-1]) < float(s.drift.iloc[0])
    v.add("(iv) drift max_k |lambda_min(K_k)/lambda_min(K_0) - 1| shrinks with width "
          "(Spearman rho)", rho, f"<= {p.spearman_max}", None, rho <= p.spearman_max and shrinks,
          note="drift by width: " + ", ".join(f"{int(r.width)}: {r.drift:.3g}"
                                             for r in s.itertuples())
               + f"; log-log slope {slope:.2f}; min ratio at widest "
                 f"{float(s.ratio.iloc[-1]):.4f} (-> 1)", kind="evidence")
    return v


def _ntk_figure(table: pd.DataFrame) -> Figure:
    fig, (ax1, ax2) = figure(2, width=5.5, height=4)
    for m, t in table.groupby("width"):
        ax1.semilogy(t.step, t.F, label=f"m = {m}")
        ax2.loglog(t.bound.clip(lower=1e-300), t.grad_sq.clip(lower=1e-300), ".", ms=2,
                   label=f"m = {m}")
    lim = [table.bound.clip(lower=1e-300).min(), table.grad_sq.max()]
    ax2.loglog(lim, lim, "k--", lw=0.8, label="equality")
    ax1.set(xlabel="GD step", ylabel="F", title="Training loss")
    ax2.set(xlabel="4 lambda_min(K) F", ylabel="||grad F||^2", title="PL inequality")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    return fig


def _drift_figure(s: pd.DataFrame) -> Figure:
    fig, (ax,) = figure(width=5, height=4)
    ax.loglog(s.width, s.drift, "o-")
    ax.xaxis.set_major_locator(FixedLocator(list(s.width)))
    ax.xaxis.set_major_formatter(FixedFormatter([str(int(w)) for w in s.width]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", labelrotation=45)
    ax.set(xlabel="width m", ylabel="max_k |lambda_min(K_k)/lambda_min(K_0) - 1|",
           title="NTK drift vs width")
    return fig
