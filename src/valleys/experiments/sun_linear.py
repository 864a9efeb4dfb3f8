"""Sun et al. (survey 001): deep linear networks and the wide-network PL inequality.

* ``sun-deep-linear`` (SUN-T2.1, SUN-T2.2, VBB-P3.1): gradient descent on
  ||Y - W_L ... W_1 X||_F^2 from many random starts reaches the reduced-rank regression
  optimum for every architecture (bottlenecks included); the Baldi–Hornik critical points
  of one hidden layer are critical, have the closed-form loss, and are saddles unless their
  index set is the top one, which gives the global minimum.
* ``sun-ntk-pl`` (SUN-C5.1): along full-batch GD on two-layer tanh nets,
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

from .. import nets
from ..core import Landscape
from ..critical import (
    baldi_hornik_points,
    classify,
    gradient_descent_batch,
    reduced_rank_optimum,
    regression_spectrum,
)
from ..curvature import ntk_gram
from ..errors import InvalidParameterError
from .common import figure
from .params import Params
from .registry import experiment
from .result import Result, Verdict

# ------------------------------------------------------------------ sun-deep-linear


@dataclass(frozen=True)
class DeepLinearParams(Params):
    """Parameters of ``sun-deep-linear``.

    Attributes:
        d_x: input dimension.
        d_y: output dimension.
        n_samples: number of samples N (>= d_x, d_y).
        signal: singular values of the planted map Y = M X + noise (d_y entries, distinct).
        noise: standard deviation of the noise (times 1/sqrt(N), like X).
        architectures: hidden widths of each GD architecture, joined by "-" (e.g. "6-2").
        n_runs: random starts per architecture (PyTorch-default initialisation, seeds 0..).
        lr_scale: the step is lr_scale / depth.
        steps: GD steps.
        gap_tol: pass if every run's relative gap (L - L*) / L* is at most this.
        baldi_widths: hidden widths k of the Baldi–Hornik constructions.
        grad_tol: pass if every constructed point has ||grad|| <= grad_tol (absolute).
        saddle_tol: non-top points need lambda_min(Hess) < -saddle_tol.
        loss_rtol: relative tolerance of the closed-form losses.
        tau: relative zero-eigenvalue threshold of classify.
    """

    d_x: int = 6
    d_y: int = 5
    n_samples: int = 40
    signal: tuple[float, ...] = (3.0, 2.0, 1.5, 1.0, 0.5)
    noise: float = 0.1
    architectures: tuple[str, ...] = ("1", "2", "3", "6-2", "4-3", "4-4-3")
    n_runs: int = 20
    lr_scale: float = 0.1
    steps: int = 8000
    gap_tol: float = 1e-6
    baldi_widths: tuple[int, ...] = (1, 2, 3, 4)
    grad_tol: float = 1e-10
    saddle_tol: float = 1e-8
    loss_rtol: float = 1e-10
    tau: float = 1e-8
    QUICK: ClassVar[dict] = {"architectures": ("2", "6-2"), "n_runs": 6, "steps": 1500,
                             "baldi_widths": (2,)}
    LIMITS: ClassVar[dict[str, str]] = {"d_x": ">= 1", "d_y": ">= 1", "n_samples": ">= 1",
                                        "signal": "nonempty, > 0", "noise": ">= 0",
                                        "architectures": "nonempty", "n_runs": ">= 1", "lr_scale": "> 0",
                                        "steps": ">= 1", "gap_tol": "> 0", "baldi_widths": "nonempty, >= 1",
                                        "grad_tol": ">= 0", "saddle_tol": ">= 0", "loss_rtol": ">= 0",
                                        "tau": "in [0, 1]"}

    def validate(self) -> None:
        """Every ``architectures`` entry must parse as hidden widths (:func:`_hidden_widths`)."""
        for arch in self.architectures:
            _hidden_widths(arch)


def _linear_data(p: DeepLinearParams) -> tuple[torch.Tensor, torch.Tensor]:
    if len(p.signal) != p.d_y or p.d_y > p.d_x or p.n_samples < p.d_x:
        msg = (f"sun-deep-linear needs len(signal) == d_y <= d_x <= n_samples. Got "
               f"len(signal)={len(p.signal)}, d_y={p.d_y}, d_x={p.d_x}, n_samples={p.n_samples}.")
        raise InvalidParameterError(msg)
    gen = torch.Generator().manual_seed(p.seed)
    f64 = torch.float64
    X = torch.randn(p.d_x, p.n_samples, generator=gen, dtype=f64) / p.n_samples ** 0.5
    U = torch.linalg.qr(torch.randn(p.d_y, p.d_y, generator=gen, dtype=f64))[0]
    V = torch.linalg.qr(torch.randn(p.d_x, p.d_y, generator=gen, dtype=f64))[0]
    M = U @ torch.diag(torch.tensor(p.signal, dtype=f64)) @ V.T
    Y = M @ X + p.noise * torch.randn(p.d_y, p.n_samples, generator=gen, dtype=f64) \
        / p.n_samples ** 0.5
    return X, Y


def _hidden_widths(arch: str) -> list[int]:
    """The hidden widths of an ``architectures`` entry such as ``"6-2"`` (ints >= 1).

    Raises:
        InvalidParameterError: the entry is not positive ints joined by '-'.
    """
    try:
        hidden = [int(w) for w in arch.split("-")]
    except ValueError:
        hidden = []
    if not hidden or min(hidden) < 1:
        msg = (f"parameter architectures: every entry must be hidden widths >= 1 joined by '-', "
               f"e.g. '6-2'. Got {arch!r}.")
        raise InvalidParameterError(msg)
    return hidden


def _widths(p: DeepLinearParams, arch: str) -> list[int]:
    return [p.d_x, *_hidden_widths(arch), p.d_y]


@experiment("sun-deep-linear", source="001 Sun et al., Theorems 2.1 and 2.2; 000 VBB Prop. 3.1",
            claim="SUN-T2.1/T2.2, VBB-P3.1: every GD run on a deep linear net reaches the "
                  "reduced-rank optimum; Baldi-Hornik points are critical, non-top ones are saddles",
            params=DeepLinearParams)
def run_deep_linear(p: DeepLinearParams) -> Result:
    """Multi-start GD per architecture (one vectorised update for all starts) and BH points."""
    X, Y = _linear_data(p)
    gd_rows = [row for arch in p.architectures for row in _gd_rows(p, arch, X, Y)]
    bh_rows = [row for k in p.baldi_widths for row in _bh_rows(p, k, X, Y)]
    gd, bh = pd.DataFrame(gd_rows), pd.DataFrame(bh_rows)
    spec = regression_spectrum(X, Y)
    lam = spec.eigenvalues.numpy()
    verdict = _deep_linear_verdict(p, gd, bh, lam)
    table = pd.concat([gd.assign(part="gd"), bh.assign(part="baldi-hornik")], ignore_index=True)
    figures = {"gd_gaps": _gap_figure(gd, p), "baldi_hornik": _bh_figure(bh)}
    meta = {"sigma_eigenvalues": lam.tolist(),
            "min_relative_eigengap": float(np.min(-np.diff(lam) / lam[:-1]))}
    return Result(table, verdict, figures, meta)


def rank_constrained_optimum(X, Y, r: int) -> float:
    """min ||Y - W X||_F^2 over rank(W) <= r, by a route separate from ``regression_spectrum``.

    NumPy QR of X^T = Q R (Q: N x d_x orthonormal) turns W X into B Q^T with B = W R^T of the
    same rank; by Pythagoras the loss is ||Y - Y Q Q^T||^2 + ||Y Q - B||^2, whose rank-r
    minimum is the sum of the squared singular values of Y Q beyond the r-th (Eckart-Young).
    """
    Xn, Yn = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    Q, _ = np.linalg.qr(Xn.T)
    YQ = Yn @ Q
    outside = float(np.sum((Yn - YQ @ Q.T) ** 2))
    s = np.linalg.svd(YQ, compute_uv=False)
    return outside + float(np.sum(s[r:] ** 2))


def _gd_rows(p: DeepLinearParams, arch: str, X, Y) -> list[dict]:
    widths = _widths(p, arch)
    land = Landscape(nets.deep_linear(widths), (X.T, Y.T), loss="mse", reduction="sum")
    starts = torch.stack([land.layout.flatten(dict(nets.deep_linear(widths, seed=s)
                                                   .named_parameters())).detach()
                          for s in range(p.n_runs)])
    depth = len(widths) - 1
    out = gradient_descent_batch(land, starts, lr=p.lr_scale / depth, steps=p.steps)
    optimum = rank_constrained_optimum(X, Y, min(widths))
    spectral = reduced_rank_optimum(X, Y, min(widths))
    gaps = ((out.losses - optimum) / optimum).numpy()
    return [{"architecture": "-".join(map(str, widths)), "run": s, "depth": depth,
             "rank_bound": min(widths), "loss": float(out.losses[s]), "optimum": optimum,
             "optimum_spectral": spectral,
             "relative_gap": float(gaps[s]), "grad_norm": float(out.grad_norms[s]),
             "diverged": bool(out.diverged[s]), "lr": p.lr_scale / depth, "steps": p.steps}
            for s in range(p.n_runs)]


def _mixing_matrix(k: int, seed: int) -> torch.Tensor:
    """A well-conditioned random invertible C = Q diag(1..2) for the BH construction."""
    gen = torch.Generator().manual_seed(seed + 1000 * k)
    Q = torch.linalg.qr(torch.randn(k, k, generator=gen, dtype=torch.float64))[0]
    return Q @ torch.diag(torch.linspace(1.0, 2.0, k, dtype=torch.float64))


def _bh_rows(p: DeepLinearParams, k: int, X, Y) -> list[dict]:
    widths = [p.d_x, k, p.d_y]
    land = Landscape(nets.deep_linear(widths), (X.T, Y.T), loss="mse", reduction="sum")
    optimum = rank_constrained_optimum(X, Y, min(k, p.d_y))
    rows = []
    for pt in baldi_hornik_points(X, Y, k, _mixing_matrix(k, p.seed)):
        theta = land.layout.flatten({"W1": pt.W1, "W2": pt.W2})
        cp = classify(land, theta, floor=optimum, tau=p.tau)
        rows.append({"k": k, "index_set": str(pt.index_set), "size": len(pt.index_set),
                     "is_top": pt.is_top, "loss": cp.loss, "closed_form_loss": pt.loss,
                     "optimum": optimum, "grad_norm": cp.grad_norm,
                     "lambda_min": float(cp.eigenvalues[0]), "index": cp.index,
                     "nullity": cp.nullity, "kind": cp.kind})
    return rows


def _deep_linear_verdict(p, gd: pd.DataFrame, bh: pd.DataFrame, lam) -> Verdict:
    v = Verdict()
    v.add("Sigma has distinct eigenvalues (SUN-T2.2 assumption)",
          float(np.min(-np.diff(lam) / lam[:-1])), "> 0", None, bool(np.all(np.diff(lam) < 0)),
          note=f"eigenvalues {np.round(lam, 6).tolist()}", kind="consistency")
    routes = float((abs(gd.optimum - gd.optimum_spectral) / gd.optimum).max())
    v.add("reduced-rank optimum: spectral route (Sigma eigenvalues) = QR/SVD route", routes, 0.0,
          p.loss_rtol, routes <= p.loss_rtol, note="two codes for one closed form", kind="consistency")
    for arch, rows in gd.groupby("architecture", sort=False):
        low, high = float(rows.relative_gap.min()), float(rows.relative_gap.max())
        worst = max(abs(low), abs(high))
        v.add(f"GD {arch}: max |relative gap| to the reduced-rank optimum (two-sided)", worst, 0.0,
              p.gap_tol, worst <= p.gap_tol and not rows.diverged.any(),
              note=f"{len(rows)} runs, gaps in [{low:.2e}, {high:.2e}] (below -gap_tol would mean the "
                   f"optimum is wrong), lr {rows.lr.iloc[0]:.4g}, {p.steps} steps, "
                   f"L* = {rows.optimum.iloc[0]:.6f} (QR/SVD route)", kind="evidence")
    v.add("max ||grad|| at Baldi-Hornik points", float(bh.grad_norm.max()), 0.0, p.grad_tol,
          float(bh.grad_norm.max()) <= p.grad_tol, note=f"{len(bh)} points, k in {p.baldi_widths}", kind="evidence")
    rel = float((abs(bh.loss - bh.closed_form_loss) / bh.closed_form_loss).max())
    v.add("BH loss = ||Y - Yhat||^2 + sum of eigenvalues outside I", rel, 0.0, p.loss_rtol,
          rel <= p.loss_rtol, kind="evidence")
    others = bh[~bh.is_top]
    worst = float(others.lambda_min.max())
    v.add("non-top BH points are saddles: max lambda_min(Hess)", worst, f"< {-p.saddle_tol}",
          p.saddle_tol, worst < -p.saddle_tol and bool((others.kind == "saddle").all()),
          note=f"{len(others)} points; kinds {sorted(set(others.kind))}", kind="evidence")
    top = bh[bh.is_top]
    top_gap = float((abs(top.loss - top.optimum) / top.optimum).max()) if len(top) else np.inf
    v.add("top-set BH points are global minima (loss = optimum)", top_gap, 0.0, p.loss_rtol,
          len(top) > 0 and top_gap <= p.loss_rtol and bool((top.kind == "global-min").all()),
          note=f"kinds {sorted(set(top.kind))}; top sets exist for k <= d_y", kind="evidence")
    return v


def _gap_figure(gd: pd.DataFrame, p) -> Figure:
    fig, (ax,) = figure(width=6, height=4)
    archs = list(dict.fromkeys(gd.architecture))
    for i, arch in enumerate(archs):
        gaps = gd[gd.architecture == arch].relative_gap.abs().clip(lower=1e-17)
        ax.scatter(np.full(len(gaps), i), gaps, s=12)
    ax.axhline(p.gap_tol, color="red", ls="--", label=f"tolerance {p.gap_tol:g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(archs)), archs, rotation=30)
    ax.set(ylabel="|L - L*| / L*", title="GD end points vs reduced-rank optimum")
    ax.legend()
    return fig


def _bh_figure(bh: pd.DataFrame) -> Figure:
    fig, (ax,) = figure(width=6, height=4)
    for top, marker, label in ((True, "*", "top set (global min)"), (False, "o", "other sets")):
        rows = bh[bh.is_top == top]
        ax.scatter(rows.loss, rows.lambda_min, marker=marker, s=40, label=label)
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.set(xlabel="loss", ylabel="lambda_min(Hess)", title="Baldi-Hornik critical points")
    ax.legend()
    return fig


# ------------------------------------------------------------------------ sun-ntk-pl


@dataclass(frozen=True)
class NTKParams(Params):
    """Parameters of ``sun-ntk-pl``.

    Attributes:
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


@experiment("sun-ntk-pl", source="001 Sun et al., §5 Claim 5.1 (wide networks, NTK Gram)",
            claim="SUN-C5.1: ||grad F||^2 >= 4 lambda_min(K) F along GD, lambda_min(K) > 0, "
                  "F -> 0, and lambda_min(K) drifts less as the width grows",
            params=NTKParams)
def run_ntk(p: NTKParams) -> Result:
    """Full-batch GD on two-layer tanh nets of several widths, tracking K at every iterate."""
    gen = torch.Generator().manual_seed(p.seed)
    X = torch.randn(p.n_points, p.d_in, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n_points, generator=gen, dtype=torch.float64)
    traces = [_ntk_trace(p, m, X, Y) for m in p.widths]
    table = pd.concat(traces, ignore_index=True)
    summary = _ntk_summary(table)
    verdict = _ntk_verdict(p, summary)
    figures = {"pl_inequality": _ntk_figure(table), "lambda_drift": _drift_figure(summary)}
    return Result(table, verdict, figures, {"summary": summary.to_dict(orient="records")})


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
