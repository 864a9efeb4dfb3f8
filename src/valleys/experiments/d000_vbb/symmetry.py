r"""Document 000 (Venturi, Bandeira & Bruna): the symmetry group of a homogeneous activation.

``vbb-symmetry`` (VBB-Conj4.1's group): for a positively k-homogeneous \(\sigma\)
(\(\sigma(ct) = c^k\sigma(t)\), \(c > 0\)) the map
\((u, W)\mapsto(\mathrm{diag}(\lambda)^{-1}u, \mathrm{diag}(\lambda)^{1/k}W)\), \(\lambda_i > 0\),
leaves \(\Phi(x) = \sum_i u_i\sigma(\langle w_i, x\rangle)\) unchanged: the net's forward pass
before and after is compared on random points. Its orbits are then level sets of the loss, so
at a critical point \(\theta^*\) their tangents
\(t_i = (-u_i e_i, \tfrac1k w_i e_i^\top)\) lie in the kernel of the Hessian (computed by
automatic differentiation, apart from the group): \(\|Ht_i\|\) is compared with
\(\|H\|\,\|t_i\|\), and the Hessian has at least \(p = \dim G\) near-zero eigenvalues.
tanh (not homogeneous) is the contrast: there the same map changes \(\Phi\). The conjecture
itself (no spurious valley for \(p\ge\dim^*/\dim G\)) is not judged.
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
from ...curvature.rank import matrix_rank
from ...nets import two_layer
from ...nets.activations import get_activation
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_000


@dataclass(frozen=True)
class SymmetryParams(Params):
    """Parameters of ``vbb-symmetry``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        activations: sigma (CLAIMS.md: square, cube, relu; tanh is the non-homogeneous contrast).
        n: input dimension.
        units: hidden units p (dim G = p).
        n_samples: data points (Gaussian) of the forward passes and of the loss.
        draws: random (theta, lambda) pairs of the invariance check, per activation.
        log_lambda: lambda_i = exp(log_lambda * N(0, 1)).
        minima: L-BFGS starts per activation whose end points carry the Hessian check (besides the
            teacher and a group image of it, global minima by construction).
        max_iter: L-BFGS iterations.
        invariance_tol: largest relative change of Phi under the group (CLAIMS.md: 1e-13).
        homogeneity_tol: sigma counts as k-homogeneous when max |sigma(c t) - c^k sigma(t)| <=
            homogeneity_tol x max |sigma(c t)| on random t, c (measured, per activation).
        grad_rtol: an end point is critical when |grad L| <= grad_rtol x max(1, L).
        flat_tol: an orbit tangent is flat when |H t| <= flat_tol x |H| |t| (spectral norm).
        zero_rtol: an eigenvalue is near zero when |lambda| <= zero_rtol x max |lambda|.
    """

    activations: tuple[str, ...] = ("square", "cube", "relu", "tanh")
    n: int = 3
    units: int = 5
    n_samples: int = 500
    draws: int = 50
    log_lambda: float = 1.0
    minima: int = 5
    max_iter: int = 2000
    invariance_tol: float = 1e-13
    homogeneity_tol: float = 1e-13
    grad_rtol: float = 1e-7
    flat_tol: float = 1e-6
    zero_rtol: float = 1e-6
    QUICK = {"n_samples": 100, "draws": 5, "minima": 0}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of square|cube|relu|tanh|sigmoid|leaky_relu|requ|softplus|elu",
        "n": ">= 1", "units": ">= 1", "n_samples": ">= 1", "draws": ">= 1", "log_lambda": ">= 0",
        "minima": ">= 0", "max_iter": ">= 1", "invariance_tol": ">= 0", "homogeneity_tol": ">= 0",
        "grad_rtol": ">= 0", "flat_tol": ">= 0", "zero_rtol": ">= 0"}


def measured_degree(act, gen: torch.Generator, tol: float) -> float:
    """k with sigma(c t) = c^k sigma(t) for c > 0, measured on random t and c (nan: not homogeneous).

    The candidate k is the activation's declared ``homogeneous_degree`` (None: not homogeneous);
    it is confirmed on 1000 random points.

    Args:
        act: an :class:`~valleys.nets.activations.Activation`.
        gen: random generator.
        tol: relative tolerance of the identity.

    Returns:
        k, or nan when no degree is declared or the identity fails.
    """
    k = act.homogeneous_degree
    if k is None:
        return float("nan")
    t = 3 * torch.randn(1000, generator=gen, dtype=torch.float64)
    c = torch.exp(torch.randn(1000, generator=gen, dtype=torch.float64))
    lhs, rhs = act(c * t), c ** k * act(t)
    ok = float((lhs - rhs).abs().max()) <= tol * max(1.0, float(lhs.abs().max()))
    return float(k) if ok else float("nan")


def act_on(theta: torch.Tensor, lam: torch.Tensor, k: float, units: int, n: int) -> torch.Tensor:
    r"""The group element \(\lambda\) acting on \(\theta = (W, u)\) (layout of ``two_layer``: W then u).

    Args:
        theta: parameters (units * n + units,).
        lam: positive scales (units,).
        k: the homogeneity degree.
        units: p.
        n: input dimension.

    Returns:
        \((\mathrm{diag}(\lambda)^{1/k}W, \mathrm{diag}(\lambda)^{-1}u)\) flattened the same way.
    """
    W = theta[: units * n].reshape(units, n)
    u = theta[units * n:]
    return torch.cat([(lam[:, None] ** (1.0 / k) * W).reshape(-1), u / lam])


def orbit_tangents(theta: torch.Tensor, k: float, units: int, n: int) -> torch.Tensor:
    r"""The tangents \(t_i = \partial_{\epsilon}\,g_{\exp(\epsilon e_i)}\theta|_{\epsilon=0}\), one per unit.

    Args:
        theta: parameters (W, u).
        k: the homogeneity degree.
        units: p.
        n: input dimension.

    Returns:
        (units, d): row i is \((\tfrac1k w_i\) in unit i's block of W, \(-u_i\) at u_i\()\).
    """
    W = theta[: units * n].reshape(units, n)
    u = theta[units * n:]
    T = torch.zeros(units, theta.numel(), dtype=theta.dtype)
    for i in range(units):
        T[i, i * n:(i + 1) * n] = W[i] / k
        T[i, units * n + i] = -u[i]
    return T


def measure(p: SymmetryParams) -> Measurement:
    """Invariance of Phi under random group elements, and the Hessian along the orbits at L-BFGS ends.

    Args:
        p: the parameters.

    Returns:
        Rows ``part`` = ``invariance`` (relative change of Phi) and ``hessian`` (gradient,
        flatness of the orbit tangents, near-zero eigenvalue count), per activation.
    """
    gen = check_generator(p.seed)
    X = torch.randn(p.n_samples, p.n, generator=gen, dtype=torch.float64)
    rows, example = [], None
    for name in progress(p.activations, "vbb-symmetry"):
        act = get_activation(name)
        k = measured_degree(act, gen, p.homogeneity_tol)
        k_map = k if not math.isnan(k) else 1.0  # the contrast uses the map with k = 1
        teacher = torch.randn(p.units * p.n + p.units, generator=gen, dtype=torch.float64)
        net = two_layer(p.units, p.n, act)
        land = Landscape(net, (X, torch.zeros(p.n_samples, dtype=torch.float64)), loss="mse")
        y = land.outputs(teacher).reshape(-1).detach()
        land = Landscape(two_layer(p.units, p.n, act), (X, y), loss="mse")
        for d in range(p.draws):
            theta = torch.randn(land.dim, generator=gen, dtype=torch.float64)
            lam = torch.exp(p.log_lambda * torch.randn(p.units, generator=gen, dtype=torch.float64))
            before = land.outputs(theta).reshape(-1)
            after = land.outputs(act_on(theta, lam, k_map, p.units, p.n)).reshape(-1)
            rows.append({"part": "invariance", "activation": name, "degree": k, "draw": d,
                         "value": float((after - before).abs().max() / before.abs().max())})
        # critical points: the teacher and a group image of it (global minima, loss 0 by construction),
        # then L-BFGS ends from random starts
        lam = torch.exp(p.log_lambda * torch.randn(p.units, generator=gen, dtype=torch.float64))
        points = [("teacher", teacher), ("teacher, moved by G", act_on(teacher, lam, k_map, p.units, p.n))]
        for s in range(p.minima):
            theta0 = torch.randn(land.dim, generator=gen, dtype=torch.float64)
            points.append((f"L-BFGS end {s}", lbfgs(land, theta0, max_iter=p.max_iter, grad_tol=1e-13).theta))
        for s, (where, th) in enumerate(points):
            th = th.detach()
            H = land.hessian(th)
            eig = torch.linalg.eigvalsh(H)
            T = orbit_tangents(th, k_map, p.units, p.n)
            hn = float(eig.abs().max())
            flat = float(max(float((H @ t).norm()) / (hn * float(t.norm())) for t in T if t.norm() > 0))
            rows.append({"part": "hessian", "activation": name, "degree": k, "draw": s, "point": where,
                         "loss": float(land.loss(th)),
                         "grad_norm": float(land.grad(th).norm()), "value": flat,
                         "near_zero": int((eig.abs() <= p.zero_rtol * hn).sum()),
                         "tangent_rank": matrix_rank(T, policy="press", warn=False).rank, "dim_G": p.units,
                         "hess_max": hn})
            if example is None and not math.isnan(k):
                example = (name, eig.abs().numpy() / hn)
    return Measurement(pd.DataFrame(rows), {"units": p.units}, extras={"example": example})


def judge(m: Measurement, p: SymmetryParams) -> Verdict:
    """Gated on sigma k-homogeneous (measured): Phi unchanged, orbit tangents in ker H at critical ends.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        Hypotheses (homogeneity; critical end points), evidence (invariance; flat tangents),
        consistency (near-zero eigenvalue count >= dim G where the tangents are independent).
    """
    df = m.table
    verdict = Verdict()
    homog = df["degree"].notna()
    contrast = df[~homog & (df["part"] == "invariance")]
    cnote = ""
    if len(contrast):
        cnote = "; non-homogeneous contrast " + ", ".join(
            f"{a}: Phi changes by {g['value'].min():.3g} .. {g['value'].max():.3g}"
            for a, g in contrast.groupby("activation"))
    verdict.hypothesis("sigma positively k-homogeneous (sigma(ct) = c^k sigma(t), measured on random t, c > 0)",
                       f"{int(homog.sum())} of {len(df)} rows", "k-homogeneous", bool(homog.any()),
                       note="degrees " + ", ".join(f"{a}: {g['degree'].iloc[0]:g}" for a, g in df.groupby("activation"))
                            + f"; rows of other activations left out{cnote}")
    inv = df[homog & (df["part"] == "invariance")]
    name_inv = "Phi unchanged by (u, W) -> (u / lambda, lambda^(1/k) W) (max relative change)"
    if inv.empty:
        verdict.not_covered(name_inv, "Conj4.1's group", "no k-homogeneous activation")
    else:
        worst = float(inv["value"].max())
        verdict.add(name_inv, worst, 0.0, p.invariance_tol, worst <= p.invariance_tol,
                    note=f"{len(inv)} random (theta, lambda), lambda = exp({p.log_lambda:g} N(0, 1)); the net's own "
                         "forward pass before and after", kind="evidence")
    hess = df[homog & (df["part"] == "hessian")]
    crit = hess["grad_norm"] <= p.grad_rtol * np.maximum(1.0, hess["loss"])
    name_flat = "orbit tangents are flat directions of the Hessian at critical points (max |H t| / |H| |t|)"
    if len(hess):
        verdict.hypothesis("Hessian rows: the point is critical (|grad L| <= grad_rtol max(1, L))",
                           f"{int(crit.sum())} of {len(hess)} points", "critical", bool(crit.any()),
                           note=f"max |grad L| {hess['grad_norm'].max():.3g}; non-critical ends left out "
                                "(there L is constant on the orbit but H t = 0 need not hold)")
    hess = hess[crit]
    if hess.empty:
        verdict.not_covered(name_flat, "H t = 0", "no critical end of a k-homogeneous net")
        return verdict
    worst = float(hess["value"].max())
    verdict.add(name_flat, worst, 0.0, p.flat_tol, worst <= p.flat_tol,
                note=f"{len(hess)} critical points ({int(hess['point'].str.startswith('teacher').sum())} teachers "
                     f"and their group images, global minima by construction; "
                     f"{int(hess['point'].str.startswith('L-BFGS').sum())} L-BFGS ends); H by automatic "
                     f"differentiation, apart from the group's formula; losses {hess['loss'].min():.3g} .. "
                     f"{hess['loss'].max():.3g}", kind="evidence")
    full = hess[hess["tangent_rank"] == hess["dim_G"]]
    if len(full):
        short = int((full["near_zero"] < full["dim_G"]).sum())
        verdict.add("points with fewer near-zero Hessian eigenvalues than dim G = p (independent tangents)",
                    short, 0, p.zero_rtol, short == 0,
                    note=f"near-zero counts {int(full['near_zero'].min())} .. {int(full['near_zero'].max())} "
                         f"(|lambda| <= {p.zero_rtol:g} max |lambda|); implied by the flat tangents: consistency",
                    kind="consistency")
    return verdict


def draw(m: Measurement, p: SymmetryParams) -> dict:
    """The invariance errors per activation and one Hessian spectrum.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"symmetry": figure}``.
    """
    df = m.table
    fig, (ax, ax2) = figure(2)
    inv = df[df["part"] == "invariance"]
    for i, (_name, g) in enumerate(inv.groupby("activation")):
        ax.scatter(np.full(len(g), i), np.maximum(g["value"], 1e-18), s=10)
    ax.set(xticks=range(inv["activation"].nunique()), xticklabels=sorted(inv["activation"].unique()),
           yscale="log", ylabel="relative change of Phi", title="group action (tanh: not homogeneous)")
    ax.axhline(p.invariance_tol, color="k", ls=":", lw=0.8)
    if m.extras["example"] is not None:
        name, spec = m.extras["example"]
        ax2.semilogy(np.arange(len(spec)), np.sort(spec) + 1e-18, "o", ms=3)
        ax2.axvline(p.units - 0.5, color="0.7", lw=0.8)
        ax2.set(xlabel="index", ylabel="|eigenvalue| / max", title=f"Hessian spectrum at an end ({name})")
    return {"symmetry": fig}


vbb_symmetry = experiment(
    "vbb-symmetry", source=SOURCE_000 + ", Section 4 (Conjecture 4.1's symmetry group)",
    claim="VBB-Conj4.1: for a positively k-homogeneous sigma the group (u, W) -> (u / lambda, lambda^(1/k) W) "
          "leaves Phi unchanged and its orbits are flat directions of the Hessian at critical points "
          "(the conjecture p >= dim*/dim G itself is not judged)",
    params=SymmetryParams, judge=judge, draw=draw)(measure)
