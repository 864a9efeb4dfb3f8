r"""Document 000 (Venturi, Bandeira & Bruna): the risk decomposition and the Monte Carlo rate of random features.

``vbb-monte-carlo``:

- VBB-Eq29: for \(f^*(x) = \int\rho(w)\sigma(\langle w, x\rangle)\,d\mu(w)\) (\(\mu\) uniform on
  the unit sphere) the estimate \(\hat f_p = \frac1p\sum_i\rho(w_i)\sigma(\langle w_i, x\rangle)\)
  with i.i.d. \(w_i\sim\mu\) has mean squared error \(C/p\), \(C = \mathbb{E}_x\mathrm{Var}_w(\rho\sigma)\).
  \(f^*\) is a closed form [derived here from the sphere's moments]: ReLU with \(\rho = 1 + w_1\)
  gives \(c_n\|x\| + x_1/(2n)\), \(c_n = \Gamma(\frac n2)/(2\sqrt\pi\,\Gamma(\frac{n+1}2))\); \(z^2\)
  with \(\rho = w_1^2\) gives \((\|x\|^2 + 2x_1^2)/(n(n+2))\). The log-log slope of the MSE
  against p must be \(-1\pm 0.1\) (CLAIMS.md) and \(p\cdot\)MSE must match \(C\), estimated
  apart. Gaussian (unnormalised) directions are the contrast outside the hypothesis: their
  estimate is biased and the error stops falling.
- VBB-Decomposition (eqs. 26-27): with \(Y = f^*(X) + \varepsilon\), \(\varepsilon\) independent
  of \(X\), \(L(\theta) = \mathbb{E}|\Phi - f^*|^2 + \mathbb{E}|Y - f^*|^2\): on samples the cross
  term \(2\,\overline{(\Phi - f^*)(f^* - Y)}\) must vanish within its measured standard error, and
  a fitted net's held-out loss stays above \(R = \mathbb{E}\varepsilon^2\). Noise whose mean
  depends on \(x\) (\(f^*\ne\mathbb{E}[Y|X]\)) is the contrast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...critical import lbfgs
from ...expressivity.random_features import loglog_slope, sphere_directions
from ...nets import two_layer
from ...record import Measurement
from ...record.stats import MAX_STANDARD_ERRORS, mean_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_000

ACTIVATIONS = ("relu", "square")
"""The filter activations with a closed-form f*: relu with rho = 1 + w_1, square with rho = w_1^2."""


def rho(name: str, W: torch.Tensor) -> torch.Tensor:
    """The density rho(w) of ``name``'s teacher: 1 + w_1 (relu) or w_1^2 (square).

    Args:
        name: ``relu`` or ``square``.
        W: directions (K, n).

    Returns:
        rho at every row of W.
    """
    return 1.0 + W[:, 0] if name == "relu" else W[:, 0] ** 2


def sigma(name: str, Z: torch.Tensor) -> torch.Tensor:
    """The filter activation: max(z, 0) (relu) or z^2 (square).

    Args:
        name: ``relu`` or ``square``.
        Z: pre-activations.

    Returns:
        sigma(Z).
    """
    return torch.relu(Z) if name == "relu" else Z ** 2


def closed_form(name: str, X: torch.Tensor) -> torch.Tensor:
    r"""\(f^*(x) = \int\rho(w)\sigma(\langle w, x\rangle)\,d\mu(w)\) in closed form (uniform \(\mu\) on the sphere).

    relu, \(\rho = 1 + w_1\): \(c_n\|x\| + x_1/(2n)\) with
    \(c_n = \mathbb{E}[\max(w_1, 0)] = \Gamma(\frac n2)/(2\sqrt\pi\,\Gamma(\frac{n+1}2))\) and
    \(\mathbb{E}[w_1\max(\langle w, x\rangle, 0)] = x_1\,\mathbb{E}[w_1^2 1_{w_1>0}] = x_1/(2n)\).
    square, \(\rho = w_1^2\): \((\|x\|^2 + 2x_1^2)/(n(n+2))\) from
    \(\mathbb{E}w_1^4 = 3/(n(n+2))\), \(\mathbb{E}w_1^2w_2^2 = 1/(n(n+2))\).

    Args:
        name: ``relu`` or ``square``.
        X: points (N, n).

    Returns:
        f*(X), shape (N,).
    """
    n = X.shape[1]
    if name == "relu":
        c = math.exp(math.lgamma(n / 2) - math.lgamma((n + 1) / 2)) / (2 * math.sqrt(math.pi))
        return c * X.norm(dim=1) + X[:, 0] / (2 * n)
    return ((X ** 2).sum(1) + 2 * X[:, 0] ** 2) / (n * (n + 2))


def _directions(kind: str, p: int, n: int, gen: torch.Generator) -> torch.Tensor:
    return sphere_directions(p, n, gen) if kind == "sphere" else torch.randn(p, n, generator=gen, dtype=torch.float64)


@dataclass(frozen=True)
class MonteCarloParams(Params):
    """Parameters of ``vbb-monte-carlo``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        activations: filter activations (relu, square).
        n: input dimension.
        widths: numbers p of random directions.
        reps: independent draws of the p directions per width.
        n_test: points x on which the error is averaged (Gaussian).
        directions: ``sphere`` (the hypothesis) and ``gaussian`` (unnormalised: the contrast).
        c_draws: directions of the separate estimate of C = E_x Var_w(rho sigma).
        slope_tol: the log-log slope must lie within max(slope_tol, z x its measured SE) of -1
            (CLAIMS.md: 0.1; the quick preset's few draws widen it to the measured error).
        max_slope_tol: a slope whose z x SE exceeds this reports insufficient draws.
        z: measured standard errors allowed (<= 4) for p MSE vs C and for the cross term.
        n_samples: samples of the decomposition (train and held-out test each).
        noises: ``independent`` (eps ~ N(0, s^2) apart from X: f* = E[Y|X]) and ``biased``
            (eps + 0.5 x_1: f* is not E[Y|X], the contrast).
        noise_std: s.
        nets: random nets Phi of the cross-term check per noise kind.
        units: hidden units of those nets and of the fitted one.
        max_iter: L-BFGS iterations of the fitted net.
    """

    activations: tuple[str, ...] = ACTIVATIONS
    n: int = 5
    widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    reps: int = 200
    n_test: int = 500
    directions: tuple[str, ...] = ("sphere", "gaussian")
    c_draws: int = 200_000
    slope_tol: float = 0.1
    max_slope_tol: float = 0.3
    z: float = 4.0
    n_samples: int = 20_000
    noises: tuple[str, ...] = ("independent", "biased")
    noise_std: float = 0.5
    nets: int = 10
    units: int = 8
    max_iter: int = 500
    QUICK = {"widths": (16, 64, 256, 512), "reps": 60, "n_test": 100, "c_draws": 50_000, "n_samples": 1500,
             "nets": 3, "max_iter": 100}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of relu|square", "n": ">= 2", "widths": "nonempty, >= 1", "reps": ">= 2",
        "n_test": ">= 1", "directions": "nonempty, one of sphere|gaussian", "c_draws": ">= 100",
        "slope_tol": ">= 0", "max_slope_tol": "> 0", "z": f"> 0, <= {MAX_STANDARD_ERRORS:g}", "n_samples": ">= 10",
        "noises": "one of independent|biased", "noise_std": "> 0", "nets": ">= 0", "units": ">= 1",
        "max_iter": ">= 1"}


def measure(p: MonteCarloParams) -> Measurement:
    """Monte Carlo errors per (activation, directions, p, rep), C, and the decomposition's terms.

    Args:
        p: the parameters.

    Returns:
        Rows ``part`` = ``eq29`` (the mean over the test points of (f_p - f*)^2 per draw, and C)
        and ``decomposition`` (L, the two terms, the cross term's mean and SE, per net).
    """
    gen = check_generator(p.seed)
    rows = []
    X = torch.randn(p.n_test, p.n, generator=gen, dtype=torch.float64)
    for name in progress(p.activations, "eq. 29"):
        f = closed_form(name, X)
        Wc = sphere_directions(p.c_draws, p.n, gen)
        second = torch.zeros(p.n_test, dtype=torch.float64)
        for chunk in Wc.split(20_000):
            second += ((rho(name, chunk)[None] * sigma(name, X @ chunk.T)) ** 2).sum(1)
        C = float((second / p.c_draws - f ** 2).mean())  # E_x Var_w(rho sigma), apart from the draws below
        for kind in p.directions:
            for width in p.widths:
                for r in range(p.reps):
                    W = _directions(kind, width, p.n, gen)
                    est = sigma(name, X @ W.T) @ rho(name, W) / width
                    rows.append({"part": "eq29", "activation": name, "directions": kind, "p": width, "rep": r,
                                 "mse": float(((est - f) ** 2).mean()), "C": C,
                                 "max_norm_error": float((W.norm(dim=1) - 1).abs().max())})
    # the decomposition: Y = f*(X) + eps, f* the relu closed form
    for noise in p.noises:
        Xd = torch.randn(2 * p.n_samples, p.n, generator=gen, dtype=torch.float64)
        f = closed_form("relu", Xd)
        eps = p.noise_std * torch.randn(2 * p.n_samples, generator=gen, dtype=torch.float64)
        if noise == "biased":
            eps = eps + 0.5 * Xd[:, 0]
        Y = f + eps
        train, test = slice(0, p.n_samples), slice(p.n_samples, None)
        land = Landscape(two_layer(p.units, p.n, "relu"), (Xd[train], Y[train]), loss="mse")
        thetas = [torch.randn(land.dim, generator=gen, dtype=torch.float64) for _ in range(p.nets)]
        fitted = lbfgs(land, torch.randn(land.dim, generator=gen, dtype=torch.float64), max_iter=p.max_iter).theta
        for i, theta in enumerate([*thetas, fitted]):
            out = land.outputs(theta).reshape(-1).detach() if i < p.nets else None
            Xs, Ys, fs = (Xd[train], Y[train], f[train]) if i < p.nets else (Xd[test], Y[test], f[test])
            if out is None:  # the fitted net on the held-out half
                out = Landscape(two_layer(p.units, p.n, "relu"), (Xs, Ys), loss="mse").outputs(theta).reshape(-1)
                out = out.detach()
            cross = 2 * (out - fs) * (fs - Ys)
            per_point = (out - Ys) ** 2
            rows.append({"part": "decomposition", "noise": noise, "net": "fitted (held out)" if i == p.nets else i,
                         "L": float(per_point.mean()), "L_se": float(per_point.std() / math.sqrt(len(Ys))),
                         "approx": float(((out - fs) ** 2).mean()), "bayes": float(((Ys - fs) ** 2).mean()),
                         "cross": float(cross.mean()), "cross_se": float(cross.std() / math.sqrt(len(Ys))),
                         "R": p.noise_std ** 2, "noise_mean_depends_on_x": noise == "biased"})
    return Measurement(pd.DataFrame(rows), {"widths": list(p.widths)})


def _slope(g: pd.DataFrame) -> float:
    mse = g.groupby("p")["mse"].mean()
    return loglog_slope(mse.index.to_numpy(), mse.to_numpy())


def slope_and_se(g: pd.DataFrame) -> tuple[float, float]:
    """The least-squares slope of log mean MSE against log p and its standard error.

    The error of each log mean is its measured relative standard error (delta method,
    independent draws per p), propagated through the least-squares weights.

    Args:
        g: ``eq29`` rows of one activation (columns ``p``, ``mse``).

    Returns:
        ``(slope, se)``.
    """
    stats = g.groupby("p")["mse"].agg(["mean", "std", "count"])
    x = np.log(stats.index.to_numpy(dtype=float))
    rel_se = (stats["std"] / np.sqrt(stats["count"]) / stats["mean"]).to_numpy()
    weights = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    slope = float(weights @ np.log(stats["mean"].to_numpy()))
    return slope, float(np.sqrt((weights ** 2 * rel_se ** 2).sum()))


def judge(m: Measurement, p: MonteCarloParams) -> Verdict:
    """Eq. 29 on sphere directions (slope -1 +- slope_tol; p MSE = C), the decomposition where f* = E[Y|X].

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict; Gaussian directions and x-dependent noise are left out (their numbers in notes).
    """
    df = m.table
    verdict = Verdict()
    eq = df[df["part"] == "eq29"]
    on_sphere = (eq["directions"] == "sphere") & (eq["max_norm_error"] <= 1e-12)
    off = eq[~on_sphere]
    off_note = ""
    if len(off):
        off_note = "; contrast, Gaussian directions (left out): slopes " + ", ".join(
            f"{a}: {_slope(g):.3f}" for a, g in off.groupby("activation"))
    verdict.hypothesis("eq. 29: w_i i.i.d. uniform on the unit sphere", f"{int(on_sphere.sum())} of {len(eq)} draws",
                       "on the sphere", bool(on_sphere.any()), note=f"rows off the sphere left out{off_note}")
    cov = eq[on_sphere]
    acts = sorted(set(cov["activation"])) if len(cov) else []
    if not acts:
        verdict.not_covered("Eq29: log-log slope of the MSE = -1", "-1", "no draw on the sphere")
    for a in acts:
        g = cov[cov["activation"] == a]
        if g["p"].nunique() < 2:
            verdict.not_covered(f"Eq29: {a}: log-log slope of the MSE = -1", "-1", "a slope needs >= 2 widths")
            continue
        slope, se = slope_and_se(g)
        tol = max(p.slope_tol, p.z * se)
        name = f"Eq29: {a}: log-log slope of the MSE = -1 (+- max({p.slope_tol:g}, {p.z:g} measured SE))"
        note = (f"{g['rep'].nunique()} draws per p = {int(g['p'].min())} .. {int(g['p'].max())}, slope SE {se:.3g}; "
                "f* in closed form (a wrong f* leaves a bias floor and flattens the slope)")
        if p.z * se > p.max_slope_tol:
            verdict.add(name, slope, -1.0, tol, False, f"{note}; {p.z:g} SE > {p.max_slope_tol:g}: too few draws to "
                        "tell the rate", kind="evidence", status="insufficient draws")
        else:
            verdict.add(name, slope, -1.0, tol, abs(slope + 1.0) <= tol, note=note, kind="evidence")
        C = float(g["C"].iloc[0])
        mean_check(verdict, f"Eq29: {a}: p x MSE = C = E_x Var_w(rho sigma) (<= {p.z:g} measured SE)",
                   (g["p"] * g["mse"]).to_numpy(), C, n_se=p.z,
                   note=f"C = {C:.4g} from {p.c_draws} separate directions; every (p, draw) independent")
    dec = df[df["part"] == "decomposition"]
    if dec.empty:
        return verdict
    good = ~dec["noise_mean_depends_on_x"].astype(bool)
    bad = dec[~good & (dec["net"] != "fitted (held out)")]
    bad_note = ""
    if len(bad):
        bad_note = (f"; contrast, noise mean 0.5 x_1 (f* is not E[Y|X], left out): cross term / SE up to "
                    f"{(bad['cross'] / bad['cross_se']).abs().max():.3g}")
    verdict.hypothesis("Decomposition: Y = f*(X) + noise independent of X (f* = E[Y|X])",
                       f"{int(good.sum())} of {len(dec)} rows", "f* = E[Y|X]", bool(good.any()),
                       note=f"rows with x-dependent noise left out{bad_note}")
    ok = dec[good]
    nets = ok[ok["net"] != "fitted (held out)"]
    name_cross = f"Decomposition: cross term 2 mean((Phi - f*)(f* - Y)) = 0 (<= {p.z:g} measured SE, every net)"
    if nets.empty:
        verdict.not_covered(name_cross, "0", "no row with f* = E[Y|X]")
    else:
        worst = float((nets["cross"] / nets["cross_se"]).abs().max())
        verdict.add(name_cross, worst, 0.0, p.z, worst <= p.z,
                    note=f"{len(nets)} random nets; so L = E|Phi - f*|^2 + E|Y - f*|^2 up to sampling", kind="evidence")
        ident = float(((nets["L"] - nets["approx"] - nets["bayes"] - nets["cross"]).abs() / nets["L"]).max())
        verdict.add("Decomposition: L = approx + Bayes + cross on the sample (algebra)", ident, 0.0, 1e-12,
                    ident <= 1e-12, kind="consistency")
    fit = ok[ok["net"] == "fitted (held out)"]
    name_floor = f"Decomposition: min L >= R: the fitted net's held-out loss >= R - {p.z:g} measured SE"
    if fit.empty:
        verdict.not_covered(name_floor, "L >= R", "no fitted net with f* = E[Y|X]")
    else:
        slack = (fit["L"] - fit["R"]) / fit["L_se"]
        verdict.add(name_floor, float(slack.min()), f">= -{p.z:g}", p.z, bool((slack >= -p.z).all()),
                    note=f"held-out L {fit['L'].min():.4g}, R = {fit['R'].iloc[0]:.4g}", kind="evidence")
    return verdict


def draw(m: Measurement, p: MonteCarloParams) -> dict:
    """The Monte Carlo MSE against p (sphere and Gaussian directions) and C/p.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"monte_carlo": figure}``.
    """
    df = m.table
    eq = df[df["part"] == "eq29"]
    fig, (ax,) = figure()
    for (a, kind), g in eq.groupby(["activation", "directions"]):
        mse = g.groupby("p")["mse"].mean()
        ax.loglog(mse.index, mse.to_numpy(), "o-" if kind == "sphere" else "x--",
                  label=f"{a}, {kind} (slope {_slope(g):.2f})")
        if kind == "sphere":
            ax.loglog(mse.index, g["C"].iloc[0] / mse.index.to_numpy(), "k:", lw=0.8)
    ax.set(xlabel="p", ylabel="E (f_p - f*)^2", title="eq. 29: Monte Carlo error (dotted: C/p)")
    ax.legend(fontsize=7)
    return {"monte_carlo": fig}


vbb_monte_carlo = experiment(
    "vbb-monte-carlo", source=SOURCE_000 + ", eqs. 26-29 (risk decomposition, random features)",
    claim="VBB-Eq29/VBB-Decomposition: the Monte Carlo random-features estimate of an integral of filter "
          "functions has mean squared error C/p (log-log slope -1); L = E|Phi - f*|^2 + E|Y - f*|^2, so "
          "min L >= R",
    params=MonteCarloParams, judge=judge, draw=draw)(measure)
