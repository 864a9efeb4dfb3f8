"""Sun et al. (survey 001): deep linear networks and the wide-network PL inequality.

``sun-deep-linear`` (SUN-T2.1, SUN-T2.2, VBB-P3.1): gradient descent on
||Y - W_L ... W_1 X||_F^2 from many random starts reaches the reduced-rank regression
optimum for every architecture (bottlenecks included); the Baldi–Hornik critical points
of one hidden layer are critical, have the closed-form loss, and are saddles unless their
index set is the top one, which gives the global minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ... import nets
from ...core import Landscape
from ...critical import classify, gradient_descent_batch
from ...errors import InvalidParameterError
from ...literature.baldi1989 import baldi_hornik_points, reduced_rank_optimum, regression_spectrum
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict

# ------------------------------------------------------------------ sun-deep-linear


@dataclass(frozen=True)
class DeepLinearParams(Params):
    """Parameters of ``sun-deep-linear``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
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


def measure(p: DeepLinearParams) -> Measurement:
    """Multi-start GD per architecture (one vectorised update for all starts) and BH points.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    X, Y = _linear_data(p)
    gd_rows = [row for arch in p.architectures for row in _gd_rows(p, arch, X, Y)]
    bh_rows = [row for k in p.baldi_widths for row in _bh_rows(p, k, X, Y)]
    gd, bh = pd.DataFrame(gd_rows), pd.DataFrame(bh_rows)
    spec = regression_spectrum(X, Y)
    lam = spec.eigenvalues.numpy()
    gap = float(np.min(-np.diff(lam) / lam[:-1])) if lam.size > 1 else float("inf")
    table = pd.concat([gd.assign(part="gd"), bh.assign(part="baldi-hornik")], ignore_index=True)
    table["sigma_eigengap"] = gap  # the SUN-T2.2 hypothesis of every instance (one data set)
    summary = {"sigma_eigenvalues": lam.tolist(), "min_relative_eigengap": gap}
    return Measurement(table, summary)


def _parts(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The GD rows and the Baldi-Hornik rows of the table, each with its own columns and dtypes."""
    gd = table[table.part == "gd"].dropna(axis=1, how="all").astype({"diverged": bool})
    bh = table[table.part == "baldi-hornik"].dropna(axis=1, how="all").astype({"is_top": bool})
    return gd, bh


def judge(m: Measurement, p: DeepLinearParams) -> Verdict:
    """GD reaches the reduced-rank optimum; BH points are critical, non-top ones saddles; only
    on instances where Sigma has distinct eigenvalues (SUN-T2.2's hypothesis).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table = m.table
    distinct = table.sigma_eigengap > 0
    lam = np.asarray(m.summary["sigma_eigenvalues"], dtype=np.float64)
    verdict = Verdict()
    verdict.hypothesis("Sigma = Y X^T (X X^T)^-1 X Y^T has distinct eigenvalues (SUN-T2.2)",
                       f"{int(distinct.sum())} of {len(table)} rows", "all", bool(distinct.any()),
                       note=f"smallest relative eigengap {float(table.sigma_eigengap.min()):.3g}; "
                            f"eigenvalues {np.round(lam, 6).tolist()}")
    if not distinct.any():
        for name in ("GD reaches the reduced-rank optimum", "Baldi-Hornik points are critical",
                     "non-top BH points are saddles", "top-set BH points are global minima"):
            verdict.not_covered(name, "as SUN-T2.2", note="Sigma has a repeated eigenvalue")
        return verdict
    gd, bh = _parts(table[distinct])
    verdict.checks.extend(_deep_linear_verdict(p, gd, bh, lam).checks)
    return verdict


def draw(m: Measurement, p: DeepLinearParams) -> dict:
    """GD gaps per architecture and the BH points' loss against lambda_min.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``gd_gaps``, ``baldi_hornik``.
    """
    gd, bh = _parts(m.table)
    return {"gd_gaps": _gap_figure(gd, p), "baldi_hornik": _bh_figure(bh)}


run_deep_linear = experiment(
    "sun-deep-linear", source="001 Sun et al., Theorems 2.1 and 2.2; 000 VBB Prop. 3.1",
    claim="SUN-T2.1/T2.2, VBB-P3.1: every GD run on a deep linear net reaches the "
          "reduced-rank optimum; Baldi-Hornik points are critical, non-top ones are saddles",
    params=DeepLinearParams, judge=judge, draw=draw)(measure)


def rank_constrained_optimum(X, Y, r: int) -> float:
    r"""\(\min_{\operatorname{rank} W\le r}\|Y - WX\|_F^2\), by a route separate from ``regression_spectrum``.

    NumPy QR of \(X^\top = QR\) (\(Q\): \(N\times d_x\) orthonormal) turns \(WX\) into \(BQ^\top\) with
    \(B = WR^\top\) of the same rank; by Pythagoras the loss is
    \(\|Y - YQQ^\top\|^2 + \|YQ - B\|^2\), whose rank-\(r\) minimum is the sum of the squared
    singular values of \(YQ\) beyond the \(r\)-th (Eckart–Young).

    Args:
        X: inputs \((d_x, N)\) with full row rank.
        Y: targets \((d_y, N)\).
        r: the largest rank allowed (the narrowest width).

    Returns:
        The optimum value.
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
