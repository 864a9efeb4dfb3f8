"""Document 000 (VBB): an explicit arbitrarily bad spurious valley (VBB-C3.3), n = 2, p = 1.

Quadratic net f(x) = u (w^T x)^2, x ~ N(0, I_2), target y = x^T A* x with
A* = M diag(a, -b) (a > b > 0). With s = u |w|^2 and e = w / |w| = (cos phi, sin phi),
the population loss is [derived here]

    L(s, phi) = (s - M(a - b))^2 + 2 |s e e^T - A*|_F^2
              = L(0) - 2 s M g(phi) + 3 s^2,   g(phi) = (a - b) + 2(a cos^2 phi - b sin^2 phi),
    L(0) = M^2 (a - b)^2 + 2 M^2 (a^2 + b^2),

using E[(x^T B x)^2] = (tr B)^2 + 2 |B|_F^2. The branches s > 0 and s < 0 (the sign of u)
are joined only through s = 0, where L = L(0). Their floors are
L(0) - M^2 g_max^2 / 3 (s > 0, g_max = 3a - b) and L(0) - M^2 g_min^2 / 3 (s < 0,
g_min = a - 3b < 0): for a = 2, b = 1 the global minimum is 8M^2/3, the spurious floor
32M^2/3 and the barrier from the spurious floor L(0) - 32M^2/3 = M^2/3, so the valley is
8M^2 above the global minimum: arbitrarily bad as M grows.
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
from ...paths import certify, chain, evaluate, linear
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_000 = "000 Davy, report on Venturi, Bandeira & Bruna"


@dataclass(frozen=True)
class BadValleyParams(Params):
    """Parameters of ``vbb-bad-valley``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        scales: the values of M.
        a: first eigenvalue factor of A* = M diag(a, -b); a > b > 0 and a < 3b (so both branches
            have a floor).
        b: minus the second eigenvalue factor of A* = M diag(a, -b) (b > 0).
        n_samples: Gaussian samples of the empirical loss.
        n_starts: GD starts per branch.
        steps: L-BFGS iterations per start (a monotone line search).
        z: measured standard errors allowed between the empirical floors (and L(0), the gap)
            and the population formulas (at most 4, record.stats.MAX_STANDARD_ERRORS).
        min_samples: below this many samples the population-formula checks report
            "insufficient draws" (the measured SE of a fourth-moment average is unreliable).
        opt_rtol: relative tolerance between GD floors and the exact empirical branch minima.
        slope_tol: tolerance on the log-log slope 2 of the floor gap against M.
        n_phi: grid of phi for the exact empirical branch minima.
    """

    scales: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    a: float = 2.0
    b: float = 1.0
    n_samples: int = 50_000
    n_starts: int = 20
    steps: int = 400
    z: float = 4.0
    min_samples: int = 1000
    opt_rtol: float = 1e-6
    slope_tol: float = 1e-6
    n_phi: int = 2001
    QUICK = {"scales": (1.0, 10.0), "n_samples": 3000, "n_starts": 3, "steps": 150, "n_phi": 721}
    LIMITS: ClassVar[dict[str, str]] = {
        "scales": "nonempty, > 0", "a": "> 0", "b": "> 0", "n_samples": ">= 10",
        "n_starts": ">= 1", "steps": ">= 1", "z": "> 0, <= 4", "min_samples": ">= 2", "opt_rtol": ">= 0",
        "slope_tol": ">= 0", "n_phi": ">= 3"}


def population(M: float, a: float, b: float) -> dict[str, float]:
    """Closed forms of the population loss: L(0), the two floors, global minimum, barrier.

    Args:
        M: the scale of the target.
        a: A* = M diag(a, -b).
        b: see ``a``.

    Returns:
        ``L_zero``, ``floor_plus``, ``floor_minus``, ``global`` and ``barrier``.
    """
    L0 = M ** 2 * ((a - b) ** 2 + 2 * (a * a + b * b))
    g_max, g_min = 3 * a - b, a - 3 * b
    plus = L0 - M ** 2 * g_max ** 2 / 3
    minus = L0 - M ** 2 * g_min ** 2 / 3 if g_min < 0 else L0
    return {"L_zero": L0, "floor_plus": plus, "floor_minus": minus, "global": min(plus, minus),
            "barrier": L0 - max(plus, minus)}


def _branch_min(X: torch.Tensor, y: torch.Tensor, sign: float, n_phi: int) -> torch.Tensor:
    """Exact minimum of the empirical loss over s with sign(s) = sign: closed form in s on a phi grid,
    refined by golden section around the best grid point.

    Returns:
        The per-sample losses (s z_i - y_i)^2 at the minimiser (their mean is the minimum).
    """
    def per_sample(phis: torch.Tensor) -> torch.Tensor:
        z = (X[:, 0:1] * torch.cos(phis) + X[:, 1:2] * torch.sin(phis)) ** 2  # (N, P)
        s = (z * y[:, None]).sum(0) / (z * z).sum(0)
        s = torch.where(s * sign > 0, s, torch.zeros_like(s))
        return (s * z - y[:, None]) ** 2

    def best(phis: torch.Tensor) -> torch.Tensor:
        return per_sample(phis).mean(0)

    phis = torch.linspace(0, math.pi, n_phi, dtype=X.dtype)
    vals = torch.cat([best(chunk) for chunk in phis.split(64)])  # chunks bound the memory (N x 64)
    k = int(torch.argmin(vals))
    lo, hi = float(phis[max(k - 1, 0)]), float(phis[min(k + 1, n_phi - 1)])
    for _ in range(80):
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        v = best(torch.tensor([m1, m2], dtype=X.dtype))
        if v[0] < v[1]:
            hi = m2
        else:
            lo = m1
    return per_sample(torch.tensor([0.5 * (lo + hi)], dtype=X.dtype))[:, 0]


def _se(samples: torch.Tensor) -> float:
    """The measured standard error std(samples, ddof=1) / sqrt(n) of a sample mean."""
    return float(samples.std() / math.sqrt(samples.numel()))


def measure(p: BadValleyParams) -> Measurement:
    """GD and exact floors of both sign branches, L(0), and the two paths between the branches, per M.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: one row per M (empirical, L-BFGS and population floors,
        L(0), their measured standard errors, the path maxima).
    """
    gen = check_generator(p.seed)
    X = torch.randn(p.n_samples, 2, generator=gen, dtype=torch.float64)
    rows, example = [], None
    for M in progress(p.scales, "vbb-bad-valley"):
        y = M * (p.a * X[:, 0] ** 2 - p.b * X[:, 1] ** 2)
        land = Landscape(two_layer(1, 2, "square"), (X, y), loss="mse")
        theory = population(M, p.a, p.b)
        L_zero = float((y ** 2).mean())  # the empirical loss on s = 0 (a mean of y_i^2)
        floors = {}
        for sign in (1.0, -1.0):
            # starts inside the branch's valley: sign(s) g(phi) > 0 and |s| below the optimum, so
            # L < L(0) and a monotone descent cannot cross s = 0
            centre = 0.0 if sign > 0 else math.pi / 2
            phi = centre + (torch.rand(p.n_starts, generator=gen, dtype=torch.float64) - 0.5) * 0.4
            g = (p.a - p.b) + 2 * (p.a * torch.cos(phi) ** 2 - p.b * torch.sin(phi) ** 2)
            s = sign * 0.5 * M * g.abs() / 3 * (0.5 + torch.rand(p.n_starts, generator=gen, dtype=torch.float64))
            r = torch.sqrt(s.abs())
            starts = torch.stack([r * torch.cos(phi), r * torch.sin(phi), torch.sign(s)], 1)
            ends = [lbfgs(land, st, max_iter=p.steps, grad_tol=1e-12) for st in starts]
            thetas = torch.stack([e.theta for e in ends])
            losses = torch.tensor([e.loss for e in ends], dtype=torch.float64)
            same = (torch.sign(thetas[:, 2]) == sign).all()
            floors[sign] = (float(losses.min()), float(losses.max()), bool(same), thetas[int(torch.argmin(losses))])
        per_sample = {s: _branch_min(X, y, s, p.n_phi) for s in (1.0, -1.0)}
        exact = {s: float(v.mean()) for s, v in per_sample.items()}
        # a path from the spurious floor to the global one through u = 0 (the lowest crossing)
        bad, good = floors[-1.0][3], floors[1.0][3]
        mid_bad, mid_good = bad.clone(), good.clone()
        mid_bad[2], mid_good[2] = 0.0, 0.0
        path = chain(linear(bad, mid_bad, label="u -> 0"), linear(mid_bad, mid_good, label="rotate w at u = 0"),
                     linear(mid_good, good, label="u up (convex descent)"))
        report = evaluate(path, land, num=101, max_points=301)
        straight = evaluate(linear(bad, good), land, num=201, max_points=401)
        cert = certify(path, land, claim="sublevel", level=L_zero)
        rows.append({"M": M, "floor_plus_gd": floors[1.0][0], "floor_plus_gd_max": floors[1.0][1],
                     "floor_minus_gd": floors[-1.0][0], "floor_minus_gd_max": floors[-1.0][1],
                     "floor_plus_exact": exact[1.0], "floor_minus_exact": exact[-1.0],
                     "stayed_on_branch": floors[1.0][2] and floors[-1.0][2], "L_zero": L_zero,
                     "path_max": report.max, "straight_max": straight.max, "path_certificate": cert.holds,
                     "a": p.a, "b": p.b, "n_samples": p.n_samples,
                     "floor_plus_se": _se(per_sample[1.0]), "floor_minus_se": _se(per_sample[-1.0]),
                     "L_zero_se": _se(y ** 2), "gap_se": _se(per_sample[-1.0] - per_sample[1.0]),
                     **{f"theory_{k}": v for k, v in theory.items()}})
        if example is None or M == max(p.scales):
            example = (M, report, straight, theory)
    df = pd.DataFrame(rows)
    gap = df["floor_minus_exact"] - df["floor_plus_exact"]
    return Measurement(df, {"gap_over_M2": float((gap / df["M"] ** 2).mean())}, extras={"example": example})


def has_spurious_floor(a, b):
    """C3.3's construction needs a spurious branch with a floor below L(0) above the global one:
    g_max = 3a - b > 0 and g_min = a - 3b < 0 with a > b (works elementwise on columns).

    Args:
        a: the target's positive eigenvalue / M (scalar or column).
        b: minus its negative eigenvalue / M.

    Returns:
        Whether the u < 0 branch is a spurious valley (elementwise).
    """
    return (3 * a - b > 0) & (a - 3 * b < 0) & (a > b)


def judge(m: Measurement, p: BadValleyParams) -> Verdict:
    """Empirical floors vs the population formulas (<= z measured SE), GD floors vs exact ones,
    the gap vs its population value, gated on a > b, a < 3b (a spurious floor exists).

    The population formulas are derived independently of the sample (E[(x^T B x)^2] identity),
    so the empirical means could miss them: evidence. The paths between the branches cross
    s = 0, where L = L(0) by construction: consistency.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    df = m.table
    verdict = Verdict()
    covered = has_spurious_floor(df["a"], df["b"])
    verdict.hypothesis("A* = M diag(a, -b) with b < a < 3b (the u < 0 branch has a floor below L(0))",
                       f"{int(covered.sum())} of {len(df)} rows", "a > b and a < 3b", bool(covered.any()),
                       note=f"a = {sorted(set(df['a']))}, b = {sorted(set(df['b']))}")
    df = df[covered]
    names = [f"empirical {col} vs the population formula (<= {p.z:g} measured SE)"
             for col in ("floor_plus_exact", "floor_minus_exact", "L_zero")]
    gd_name = "descent (L-BFGS) from each sign branch ends at that branch's exact floor (max relative gap)"
    if df.empty:
        for name in [*names, gd_name, "gap / M^2 vs the population gap"]:
            verdict.not_covered(name, "C3.3", "no row has b < a < 3b")
        return verdict
    a, b = float(df["a"].iloc[0]), float(df["b"].iloc[0])
    n = int(df["n_samples"].min())
    for name, (col, th, se) in zip(names, (("floor_plus_exact", "theory_floor_plus", "floor_plus_se"),
                                           ("floor_minus_exact", "theory_floor_minus", "floor_minus_se"),
                                           ("L_zero", "theory_L_zero", "L_zero_se")), strict=True):
        _within_se(verdict, name, df[col], df[th], df[se], n, p)
    rel_gd = max(((df["floor_plus_gd"] - df["floor_plus_exact"]).abs() / df["floor_plus_exact"]).max(),
                 ((df["floor_minus_gd_max"] - df["floor_minus_exact"]).abs() / df["floor_minus_exact"]).max())
    verdict.add(gd_name, float(rel_gd), 0.0, p.opt_rtol, bool(rel_gd <= p.opt_rtol and df["stayed_on_branch"].all()),
                note="L-BFGS from random starts vs the closed form in s on a phi grid (independent): the "
                     "spurious branch is a valley descent cannot leave", kind="evidence")
    gap = df["floor_minus_exact"] - df["floor_plus_exact"]
    if len(df) >= 2:
        # a gap <= 0 (no valley) has no log: slope nan, the check fails
        slope = float(np.polyfit(np.log(df["M"]), np.log(gap), 1)[0]) if (gap > 0).all() else float("nan")
        verdict.add("floor gap grows like M^2 (log-log slope)", slope, 2.0, p.slope_tol,
                    abs(slope - 2.0) <= p.slope_tol, note="the data are scaled by M, so the slope is exact",
                    kind="consistency")
    theory_gap = df["theory_floor_minus"] - df["theory_floor_plus"]
    per_m2 = float((theory_gap / df["M"] ** 2).iloc[0])
    _within_se(verdict, f"gap / M^2 vs {per_m2:.6g} (population, a = {a:g}, b = {b:g}; <= {p.z:g} measured SE)",
               gap / df["M"] ** 2, theory_gap / df["M"] ** 2, df["gap_se"] / df["M"] ** 2, n, p)
    crosses = bool((df["straight_max"] >= df["L_zero"] * (1 - 1e-12)).all())
    verdict.add("the straight path between the branches rises to L(s = 0) or above", crosses, True, None,
                crosses, note="identity: every path between the branches crosses s = 0, where L = L(0)",
                kind="consistency")
    through = bool(((df["path_max"] - df["L_zero"]).abs() <= 1e-9 * df["L_zero"]).all()
                   and (df["path_certificate"] == True).all())  # noqa: E712
    verdict.add("the path through u = 0 stays in {L <= L(0)} (exact certificate) and reaches it", through, True,
                1e-9, through, note="identity of the construction (the path crosses s = 0 at L(0)); so the "
                                    "barrier from the spurious floor is L(0) - floor_minus", kind="consistency")
    return verdict


def _within_se(verdict: Verdict, name: str, measured, theory, se, n: int, p: BadValleyParams) -> None:
    """|measured - theory| <= z * se on every row (se: measured SE of the sample mean); below
    ``p.min_samples`` samples: insufficient draws."""
    worst = float(((measured - theory).abs() / se).max())
    note = (f"{n} samples; max |empirical - population| = {worst:.3g} measured SE; the rows share one "
            "sample scaled by M")
    if n < p.min_samples:
        verdict.add(name, worst, 0.0, p.z, False, f"{note}; {n} samples < the minimum {p.min_samples}: no decision",
                    kind="evidence", status="insufficient draws")
        return
    verdict.add(name, worst, f"<= {p.z:g} SE", p.z, worst <= p.z, note=note, kind="evidence")


def draw(m: Measurement, p: BadValleyParams) -> dict:
    """The loss / M^2 along the path through u = 0 and along the straight line, at the largest M.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name: ``"barrier"``.
    """
    M, report, straight, theory = m.extras["example"]
    fig, (ax,) = figure()
    ax.plot(report.t, report.losses / M ** 2, label="through u = 0")
    ax.plot(straight.t, straight.losses / M ** 2, label="straight line")
    for key in ("floor_plus", "floor_minus", "L_zero"):
        ax.axhline(theory[key] / M ** 2, ls=":", lw=0.8, color="k")
    ax.set(xlabel="t", ylabel="L / M^2", title=f"VBB-C3.3: spurious floor to global minimum (M = {M:g})")
    ax.legend(fontsize=7)
    return {"barrier": fig}


vbb_bad_valley = experiment(
    "vbb-bad-valley", source=SOURCE_000 + ", Corollary 3.3",
    claim="VBB-C3.3: sigma = z^2, p <= n - 1 admits arbitrarily bad spurious valleys: for n = 2, "
          "p = 1 the u < 0 branch has a floor 8M^2 above the global minimum behind a barrier",
    params=BadValleyParams, judge=judge, draw=draw)(measure)
