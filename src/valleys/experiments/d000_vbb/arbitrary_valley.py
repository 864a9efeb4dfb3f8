r"""Document 000 (Venturi, Bandeira & Bruna): arbitrarily bad spurious valleys beyond n = 2 (VBB-T3.3).

``vbb-arbitrary-valley``: square loss, \(\sigma(z) = z^2\ge 0\), \(p = 1\le\frac12\dim_*(z^2, n-1)
= \frac{n-1}2\) for \(n\ge 3\) (VBB-P2.2: \(\dim_*(z^2, m) = m\)). The seed gives no
construction; this one [derived here] generalises vbb-bad-valley's: \(x\sim N(0, I_n)\),
\(y = x^\top A x\) with \(A = M\,Q\,\mathrm{diag}(\lambda)Q^\top\) (Q a random rotation). With
\(s = u\|w\|^2\), \(e = w/\|w\|\) and \(\mathbb{E}(x^\top Bx)^2 = (\mathrm{tr}B)^2 + 2\|B\|_F^2\):

    L(s, e) = L(0) - 2 s g(e) + 3 s^2,   g(e) = tr A + 2 e^T A e,   L(0) = (tr A)^2 + 2 |A|_F^2,

so the branch \(s > 0\) has the floor \(L(0) - g_{\max}^2/3\) and the branch \(s < 0\) the floor
\(L(0) - g_{\min}^2/3\) (\(g_{\max/\min} = \mathrm{tr}A + 2\lambda_{\max/\min}(A)\)); the branches meet
only at \(s = 0\), where \(L = L(0)\). With \(g_{\min} < 0 < |g_{\min}| < g_{\max}\) the \(s < 0\)
branch is a spurious valley. T3.3's constant is \(M' = \min(\text{gap}, \text{barrier})\),
gap = floor_- - floor_+, barrier = L(0) - floor_-; with \(\Omega = \{s < 0, L < \text{floor}_- +
M'/2\}\), eq. 24 and eq. 25 hold, and \(M'\) grows like \(M^2\): arbitrarily bad.
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
from ...nets import two_layer
from ...optim import lbfgs as lbfgs_fg
from ...record import Measurement
from ...record.stats import MAX_STANDARD_ERRORS
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_000

SPECTRUM = (3.0, -2.0, 0.5, -0.25, 0.25, -0.5, 0.3, -0.3)
"""Eigenvalues of A / M: the first n are used (tr > 0, one clearly negative direction)."""


@dataclass(frozen=True)
class ArbitraryValleyParams(Params):
    """Parameters of ``vbb-arbitrary-valley``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        dims: input dimensions n (n = 2 is outside T3.3: p = 1 > dim_*(z^2, 1) / 2; see vbb-bad-valley).
        scales: the values of M.
        n_samples: Gaussian samples of the empirical loss.
        n_starts: L-BFGS starts per branch.
        steps: L-BFGS iterations per start.
        e_starts: random starts (besides A's eigenvectors) of the exact branch minimum over directions.
        z: measured standard errors allowed between empirical and population values (<= 4).
        min_samples: fewer samples: the population checks report insufficient draws.
        opt_rtol: relative gap allowed between the L-BFGS floors and the exact branch minima.
    """

    dims: tuple[int, ...] = (2, 3, 4, 5)
    scales: tuple[float, ...] = (1.0, 10.0, 100.0)
    n_samples: int = 20_000
    n_starts: int = 6
    steps: int = 400
    e_starts: int = 3
    z: float = 4.0
    min_samples: int = 1000
    opt_rtol: float = 1e-6
    QUICK = {"dims": (3,), "scales": (1.0, 10.0), "n_samples": 2000, "n_starts": 2, "steps": 200, "e_starts": 2}
    LIMITS: ClassVar[dict[str, str]] = {
        "dims": f"nonempty, >= 2, <= {len(SPECTRUM)}", "scales": "nonempty, > 0", "n_samples": ">= 10",
        "n_starts": ">= 1", "steps": ">= 1", "e_starts": ">= 0", "z": f"> 0, <= {MAX_STANDARD_ERRORS:g}",
        "min_samples": ">= 2", "opt_rtol": ">= 0"}


def population(A: np.ndarray) -> dict[str, float]:
    """Closed forms of the population loss of one unit u (w^T x)^2 fitting x^T A x, x ~ N(0, I).

    Args:
        A: the symmetric target matrix.

    Returns:
        ``L_zero``, ``floor_plus``, ``floor_minus`` (L_zero where g_min >= 0), ``g_max``, ``g_min``.
    """
    lam = np.linalg.eigvalsh(A)
    tr = float(lam.sum())
    L0 = tr ** 2 + 2 * float((lam ** 2).sum())
    g_max, g_min = tr + 2 * float(lam[-1]), tr + 2 * float(lam[0])
    return {"L_zero": L0, "floor_plus": L0 - max(g_max, 0.0) ** 2 / 3,
            "floor_minus": L0 - min(g_min, 0.0) ** 2 / 3, "g_max": g_max, "g_min": g_min}


def branch_minimum(X: torch.Tensor, y: torch.Tensor, sign: float, starts: torch.Tensor) -> torch.Tensor:
    """The exact empirical minimum over the branch sign(s) = ``sign`` of mean (s (e^T x)^2 - y)^2.

    For each direction the best s (of that sign) is a closed form; the direction is optimised
    by L-BFGS (:func:`valleys.optim.lbfgs`) from every row of ``starts`` and the best kept.

    Args:
        X: data (N, n).
        y: targets (N,).
        sign: +1 or -1.
        starts: initial directions (k, n).

    Returns:
        The per-sample losses at the minimiser (their mean is the minimum).
    """
    def per_sample(e: torch.Tensor) -> torch.Tensor:
        z = (X @ e) ** 2 / (e @ e)
        s = (z * y).sum() / (z * z).sum()
        s = torch.clamp(s, min=0.0) if sign > 0 else torch.clamp(s, max=0.0)
        return (s * z - y) ** 2

    def fg(x):
        e = torch.as_tensor(x).requires_grad_(True)
        v = per_sample(e).mean()
        (g,) = torch.autograd.grad(v, e)
        return float(v.detach()), g.numpy().astype(np.float64)

    best, best_e = math.inf, None
    for e0 in starts:
        res = lbfgs_fg(fg, e0.numpy(), max_iter=500, grad_tol=1e-13, value_tol=1e-16)
        if res.value < best:
            best, best_e = float(res.value), torch.as_tensor(res.x)
    return per_sample(best_e).detach()


def measure(p: ArbitraryValleyParams) -> Measurement:
    """Per (n, M): exact and L-BFGS floors of both sign branches, L(s = 0) and the population values.

    Args:
        p: the parameters.

    Returns:
        One row per (n, M) with the empirical values, their measured standard errors and the closed forms.
    """
    gen = check_generator(p.seed)
    rows = []
    for n in progress(p.dims, "vbb-arbitrary-valley"):
        X = torch.randn(p.n_samples, n, generator=gen, dtype=torch.float64)
        Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
        lam = torch.tensor(SPECTRUM[:n], dtype=torch.float64)
        A1 = Q @ torch.diag(lam) @ Q.T
        eigvec = torch.linalg.eigh(A1).eigenvectors
        e_starts = torch.cat([eigvec.T, torch.randn(p.e_starts, n, generator=gen, dtype=torch.float64)])
        for M in p.scales:
            A = M * A1
            y = torch.einsum("ji,ik,jk->j", X, A, X)
            land = Landscape(two_layer(1, n, "square"), (X, y), loss="mse")
            theory = population(A.numpy())
            exact = {s: branch_minimum(X, y, s, e_starts) for s in (1.0, -1.0)}
            gd = {}
            for sign, col in ((1.0, -1), (-1.0, 0)):
                # starts inside the branch's valley: near the extreme eigenvector, |s| below the optimum
                g_ext = theory["g_max"] if sign > 0 else theory["g_min"]
                ends, kept = [], True
                for _ in range(p.n_starts):
                    e = eigvec[:, col] + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
                    e = e / e.norm()
                    g = float(torch.trace(A) + 2 * e @ A @ e)
                    s = sign * 0.5 * abs(g) / 3 * (0.5 + float(torch.rand(1, generator=gen, dtype=torch.float64)))
                    if sign * g <= 0:  # the perturbed direction left the valley: use the eigenvector
                        e, s = eigvec[:, col], sign * 0.25 * abs(g_ext) / 3
                    theta0 = torch.cat([math.sqrt(abs(s)) * e, torch.tensor([math.copysign(1.0, s)],
                                                                             dtype=torch.float64)])
                    end = lbfgs(land, theta0, max_iter=p.steps, grad_tol=1e-12)
                    ends.append(float(end.loss))
                    kept &= bool(torch.sign(end.theta[-1]) == sign)
                gd[sign] = (min(ends), max(ends), kept)
            L_zero = float((y ** 2).mean())
            se = {k: float(v.std() / math.sqrt(p.n_samples)) for k, v in exact.items()}
            rows.append({"n": n, "M": M, "p": 1, "n_samples": p.n_samples,
                         "floor_plus_exact": float(exact[1.0].mean()), "floor_minus_exact": float(exact[-1.0].mean()),
                         "floor_plus_se": se[1.0], "floor_minus_se": se[-1.0],
                         "gap_se": float((exact[-1.0] - exact[1.0]).std() / math.sqrt(p.n_samples)),
                         "L_zero": L_zero, "L_zero_se": float((y ** 2).std() / math.sqrt(p.n_samples)),
                         "floor_plus_gd": gd[1.0][0], "floor_minus_gd_max": gd[-1.0][1],
                         "floor_minus_gd": gd[-1.0][0], "stayed_on_branch": gd[1.0][2] and gd[-1.0][2],
                         **{f"theory_{k}": v for k, v in theory.items()}})
    df = pd.DataFrame(rows)
    return Measurement(df, {"M_prime_over_M2": {f"n={int(r.n)}, M={r.M:g}": float(
        min(r.floor_minus_exact - r.floor_plus_exact, r.L_zero - r.floor_minus_exact) / r.M ** 2)
        for r in df.itertuples()}})


def covered(df: pd.DataFrame) -> pd.Series:
    """T3.3's hypotheses per row: p <= dim_*(z^2, n - 1) / 2 = (n - 1) / 2, and a spurious branch exists
    (g_min < 0 < |g_min| < g_max, population values).

    Args:
        df: the measured table.

    Returns:
        A boolean Series.
    """
    width = df["p"] <= (df["n"] - 1) / 2
    valley = (df["theory_g_min"] < 0) & (df["theory_g_min"].abs() < df["theory_g_max"])
    return width & valley


def _within(verdict: Verdict, name: str, measured, theory, se, n: int, p: ArbitraryValleyParams, note: str) -> None:
    worst = float(((measured - theory).abs() / se).max())
    text = f"{note}; {n} samples; max |empirical - population| = {worst:.3g} measured SE"
    if n < p.min_samples:
        verdict.add(name, worst, 0.0, p.z, False, f"{text}; fewer than {p.min_samples} samples: no decision",
                    kind="evidence", status="insufficient draws")
        return
    verdict.add(name, worst, f"<= {p.z:g} SE", p.z, worst <= p.z, note=text, kind="evidence")


def judge(m: Measurement, p: ArbitraryValleyParams) -> Verdict:
    """Gated on n >= 3 (p = 1 <= (n - 1)/2) and a spurious branch: floors and gap vs the closed forms,
    L-BFGS floors vs the exact branch minima, eqs. 24-25 with M' = min(gap, barrier), M' / M^2 constant.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    df = m.table
    verdict = Verdict()
    cov = covered(df)
    verdict.hypothesis("T3.3: p = 1 <= dim_*(z^2, n - 1) / 2 = (n - 1) / 2 (n >= 3), and g_min < 0 < |g_min| < g_max",
                       f"{int(cov.sum())} of {len(df)} rows", "n >= 3 with a spurious branch", bool(cov.any()),
                       note=f"n = {sorted(set(df['n'].astype(int)))}; n = 2 rows (C3.3's case, vbb-bad-valley) and "
                            "rows without a spurious branch left out; sigma = z^2 >= 0, square loss")
    df = df[cov]
    names = [f"{lab} vs the population formula (<= {p.z:g} measured SE)"
             for lab in ("global (s > 0) floor", "spurious (s < 0) floor", "L(s = 0), the barrier's top")]
    gd_name = "L-BFGS from each sign branch ends at that branch's exact floor and stays on it (max relative gap)"
    gap_name = f"gap / M^2 vs the population gap (<= {p.z:g} measured SE)"
    eq_name = "eqs. 24-25 with M' = min(gap, barrier) > 0 and Omega = {s < 0, L < floor_- + M'/2}"
    if df.empty:
        for name in [*names, gd_name, gap_name, eq_name]:
            verdict.not_covered(name, "T3.3", "no row with n >= 3 and a spurious branch")
        return verdict
    n_s = int(df["n_samples"].min())
    for name, (col, th, se) in zip(names, (("floor_plus_exact", "theory_floor_plus", "floor_plus_se"),
                                           ("floor_minus_exact", "theory_floor_minus", "floor_minus_se"),
                                           ("L_zero", "theory_L_zero", "L_zero_se")), strict=True):
        _within(verdict, name, df[col], df[th], df[se], n_s, p,
                "closed form derived from E(x^T B x)^2 = (tr B)^2 + 2|B|_F^2; empirical: closed form in s, "
                "L-BFGS over directions")
    rel = max(((df["floor_plus_gd"] - df["floor_plus_exact"]).abs() / df["floor_plus_exact"]).max(),
              ((df["floor_minus_gd_max"] - df["floor_minus_exact"]).abs() / df["floor_minus_exact"]).max())
    verdict.add(gd_name, float(rel), 0.0, p.opt_rtol, bool(rel <= p.opt_rtol and df["stayed_on_branch"].all()),
                note="L-BFGS over (w, u) vs the reduced closed form: descent from the spurious branch stays in it",
                kind="evidence")
    gap = df["floor_minus_exact"] - df["floor_plus_exact"]
    theory_gap = df["theory_floor_minus"] - df["theory_floor_plus"]
    _within(verdict, gap_name, gap / df["M"] ** 2, theory_gap / df["M"] ** 2, df["gap_se"] / df["M"] ** 2, n_s, p,
            "gap = floor_- - floor_+ = M^2 (g_max^2 - g_min^2) / 3")
    barrier = df["L_zero"] - df["floor_minus_exact"]
    Mp = np.minimum(gap, barrier)
    # Omega = {s < 0, L < floor_- + M'/2}: min_Omega L = floor_-, sup_Omega L = floor_- + M'/2 (open, non-empty);
    # eq. 24: M'/2 + min >= sup >= min >= M' + min_Theta L; eq. 25: any path to the global floor crosses
    # s = 0, where L = L(0) >= floor_- + M'
    eq24 = (Mp > 0) & (df["floor_minus_exact"] >= Mp + df["floor_plus_exact"] - 1e-12 * df["L_zero"])
    eq25 = df["L_zero"] >= df["floor_minus_exact"] + Mp - 1e-12 * df["L_zero"]
    ratio = Mp / df["M"] ** 2
    verdict.add(eq_name, float(Mp.min()), "> 0", None, bool((eq24 & eq25).all()),
                note="M' / M^2 = " + ", ".join(f"n={int(n)}: {v:.4g}"
                                               for n, v in ratio.groupby(df["n"]).first().items())
                     + "; with M' = min(gap, barrier) eqs. 24-25 follow from the measured floors and L(0) "
                       "(every path between the branches crosses s = 0): consistency", kind="consistency")
    spread = ratio.groupby(df["n"]).agg(lambda v: float((v.max() - v.min()) / max(abs(v.max()), 1e-300))).max()
    verdict.add("M' grows like M^2 (max relative spread of M' / M^2 per n): arbitrarily bad", float(spread), 0.0,
                1e-9, bool(spread <= 1e-9), note="the targets are scaled by M, so the scaling is exact",
                kind="consistency")
    return verdict


def draw(m: Measurement, p: ArbitraryValleyParams) -> dict:
    """Floors and L(0) over M^2 per n, measured against the closed forms.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"floors": figure}``.
    """
    df = m.table
    fig, (ax,) = figure()
    for i, (n, g) in enumerate(df.groupby("n")):
        for col, mark in (("floor_plus", "v"), ("floor_minus", "^"), ("L_zero", "o")):
            emp = col + "_exact" if col != "L_zero" else col
            ax.scatter(g["M"], g[emp] / g["M"] ** 2, marker=mark, color=f"C{i}", s=18,
                       label=f"n = {n}" if col == "L_zero" else None)
            ax.plot(g["M"], g[f"theory_{col}"] / g["M"] ** 2, ":", color=f"C{i}", lw=0.8)
    ax.set(xscale="log", xlabel="M", ylabel="value / M^2",
           title="floors (v global, ^ spurious) and L(s = 0) (o); dotted: closed forms")
    ax.legend(fontsize=7)
    return {"floors": fig}


vbb_arbitrary_valley = experiment(
    "vbb-arbitrary-valley", source=SOURCE_000 + ", Theorem 3.3",
    claim="VBB-T3.3: with sigma = z^2, square loss and p = 1 <= dim_*(z^2, n - 1)/2 (n >= 3), a target x^T A x "
          "makes the u < 0 branch a spurious valley whose gap and barrier M' grow like M^2 (eqs. 24-25)",
    params=ArbitraryValleyParams, judge=judge, draw=draw)(measure)
