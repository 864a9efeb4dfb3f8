"""Document 001 (Sun et al. survey): a last hidden layer at least as wide as the data
(SUN-T3.3, SUN-T3.4, SUN-C4.1).

``sun-wide-layer``: deep nets \\(f = W_L Z_\\theta(x)\\) with last hidden width \\(d_{L-1} \\ge n\\)
(the survey's "\\(d_{L-1} \\ge d\\)" is a typo for the sample count \\(n\\)) on \\(n\\) distinct points,
square loss. Per activation and random point \\(\\theta\\) (part ``rank``): the rank of the
last hidden features \\(Z_\\theta(X)\\) and of \\([Z; 1]\\), and the straight descent line to the
least-squares last layer (:func:`valleys.literature.cooper2020.cooper_line`, certified
exactly). Per activation, L-BFGS runs (part ``train``) end at points whose loss, gradient and
feature rank are recorded.

- SUN-T3.3 (no spurious valley; \\(\\varphi\\) strictly increasing onto \\(\\mathbb R\\) and
  independent of its shifts: leaky-ReLU) and SUN-T3.4 (no sub-optimal basin; continuous
  \\(\\varphi\\), ReLU allowed, a coordinate with distinct values). Once
  \\(\\operatorname{rank}[Z; 1] = n\\) the line \\(L(t) = (1-t)^2L(\\theta)\\) reaches a global minimum
  from \\(\\theta\\): algebra (consistency). Piecewise-linear features lose rank with positive
  probability (several points in one linear region, or dead ReLU units), so the evidence is
  about the optimiser's end points: none is a critical point above the global value without
  a certified path down (the line, or for dead ReLU units a revival then the line); end
  points where the optimiser stopped short (not critical) do not decide.
- SUN-C4.1 (a) a local minimum with full-rank features is global: at every L-BFGS end point
  that is critical (\\(\\|\\nabla F\\| \\le\\) ``grad_tol``) with \\(\\operatorname{rank} Z = n\\),
  \\(F \\le\\) ``zero_tol`` (evidence: such a point with \\(F > 0\\) would contradict it);
  (b) if \\(\\varphi^{(k)}(0) \\ne 0\\) for \\(k < n\\) (\\(e^t - 1\\)), full-rank features are
  dense: rank \\(n\\) at every random \\(\\theta\\).
- Erratum (T3.3): the survey says the theorem covers \\(\\varphi(t) = t\\); the identity fails
  the shift condition (\\(t = c_1(t-a_1) + c_2(t-a_2)\\)): the measured rank of
  \\([\\varphi(s), \\varphi(s-a_1), \\varphi(s-a_2)]\\) is 2, and its features have rank
  \\(\\le d_x + 1 < n\\) at every draw.

Each row records its hypothesis quantities: the activation's declared monotonicity,
surjectivity and derivatives at 0 (nested autograd), the measured shift rank, the last
hidden width, whether the samples are distinct and whether some coordinate has distinct
values. An instance outside a theorem's hypotheses is left out of that theorem's checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...curvature.rank import matrix_rank
from ...literature.cooper2020 import cooper_line, fibre_split
from ...nets import get_activation, mlp
from ...optim import lbfgs
from ...paths import Path, Segment, certify
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001

#: Shifts a_1, a_2 of the shift-independence test (SUN-T3.3 condition 2).
SHIFTS = (0.7, -1.3)


@dataclass(frozen=True)
class WideLayerParams(Params):
    """Parameters of ``sun-wide-layer``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        activations: hidden activations (leaky_relu: T3.3; relu: T3.4; expm1: C4.1(b);
            identity: the erratum's contrast).
        n: number of samples (distinct Gaussian points).
        in_dim: input dimension.
        widths: hidden widths (the last one is d_{L-1}; >= n for the theorems).
        rank_draws: random points per activation where the ranks are measured (CLAIMS.md
            C4.1(b): 1000; 200 here per activation, four activations).
        line_points: of those, the first ones where the descent line is built and certified.
        train_runs: L-BFGS runs per activation (C4.1(a), T3.4).
        init_std: standard deviation of every parameter at the random points and the L-BFGS
            starts (0.3 keeps the nested e^t - 1 of two hidden layers finite).
        lbfgs_iter: L-BFGS iterations.
        rank_tau: relative singular-value threshold of the ranks.
        grad_tol: an end point is critical when ||grad F|| <= grad_tol.
        zero_tol: F <= zero_tol is zero loss.
        value_rtol: an end point is at the global value F* when F <= F* + value_rtol max(1, F*).
        cert_rtol: relative tolerance of the descent certificates.
        shift_grid: points of the grid of s in [-3, 3] where the shift rank is measured.
        min_draws: fewer covered draws give "insufficient draws".
    """

    activations: tuple[str, ...] = ("leaky_relu", "relu", "expm1", "identity")
    n: int = 10
    in_dim: int = 2
    widths: tuple[int, ...] = (12, 12)
    rank_draws: int = 200
    line_points: int = 20
    train_runs: int = 10
    init_std: float = 0.3
    lbfgs_iter: int = 3000
    rank_tau: float = 1e-10
    grad_tol: float = 1e-6
    zero_tol: float = 1e-10
    value_rtol: float = 1e-8
    cert_rtol: float = 1e-10
    shift_grid: int = 601
    min_draws: int = 20
    QUICK = {"rank_draws": 20, "line_points": 3, "train_runs": 2, "lbfgs_iter": 1500}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of leaky_relu|relu|expm1|identity|tanh|sigmoid|softplus|elu",
        "n": ">= 2", "in_dim": ">= 1", "widths": "nonempty, >= 1", "rank_draws": ">= 1", "line_points": ">= 0",
        "train_runs": ">= 0", "init_std": "> 0", "lbfgs_iter": ">= 1", "rank_tau": "in [0, 1]",
        "grad_tol": "> 0", "zero_tol": "> 0", "value_rtol": "> 0", "cert_rtol": ">= 0", "shift_grid": ">= 10",
        "min_draws": ">= 1"}


def shift_rank(name: str, points: int, tau: float) -> int:
    r"""The rank of \([\varphi(s), \varphi(s - a_1), \varphi(s - a_2)]\) over a grid of \(s\).

    Rank 3 means \(\varphi\) is independent of these shifts (SUN-T3.3 condition 2 at the
    shifts :data:`SHIFTS`); the identity gives 2.

    Args:
        name: the activation's name.
        points: grid points on \([-3, 3]\).
        tau: relative singular-value threshold.

    Returns:
        The numerical rank (at most 3).
    """
    phi = get_activation(name)
    s = torch.linspace(-3.0, 3.0, points, dtype=torch.float64)
    M = torch.stack([phi(s)] + [phi(s - a) for a in SHIFTS], 1)
    return int(matrix_rank(M, tau=tau, warn=False).count)


def derivatives_at_zero(name: str, order: int) -> list[float]:
    r"""\(\varphi^{(k)}(0)\) for \(k = 1..\) ``order`` by nested autograd.

    Args:
        name: the activation's name.
        order: the highest derivative.

    Returns:
        The derivatives, in order (0 where autograd finds no dependence).
    """
    phi = get_activation(name)
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    out, values = phi(t), []
    for _ in range(order):
        if not out.requires_grad:
            values.append(0.0)
            out = torch.zeros((), dtype=torch.float64)
            continue
        (out,) = torch.autograd.grad(out, t, create_graph=True)
        values.append(float(out.detach()))
    return values


def _ranks(land: Landscape, theta: torch.Tensor, n: int, tau: float) -> dict:
    Z = fibre_split(land, theta).features.T  # (n, d_{L-1})
    aug = torch.cat([Z, torch.ones(n, 1, dtype=Z.dtype)], 1)
    sv = torch.linalg.svdvals(Z)
    return {"rank_features": int(matrix_rank(Z, tau=tau, warn=False).count),
            "rank_augmented": int(matrix_rank(aug, tau=tau, warn=False).count),
            "sv_ratio": float(sv.min() / sv.max()) if float(sv.max()) > 0 else 0.0}


def revival_path(land: Landscape, theta: torch.Tensor, gen: torch.Generator) -> Path | None:
    """A path on which the loss never rises, from a point with dead last-hidden units.

    A unit of the last hidden layer that is zero on every sample contributes nothing: its
    outgoing weights go to 0 (loss unchanged), then its incoming weights and bias are redrawn
    (loss unchanged, the unit is silenced), and the straight line to the least-squares last
    layer follows (:func:`valleys.literature.cooper2020.cooper_line`).

    Args:
        land: a biased MLP landscape with at least one hidden layer.
        theta: the point.
        gen: the generator of the redrawn weights.

    Returns:
        The path, or None when no last-hidden unit is dead.
    """
    depth = len([k for k in land.layout.unflatten(theta) if k.startswith("W")])
    Z = fibre_split(land, theta).features.T
    dead = (Z == 0).all(0)
    if not bool(dead.any()):
        return None
    params = {k: v.clone() for k, v in land.layout.unflatten(theta).items()}
    params[f"W{depth}"][:, dead] = 0.0
    silenced = land.layout.flatten(params)
    W, b = params[f"W{depth - 1}"], params[f"b{depth - 1}"]
    W[dead] = torch.randn(int(dead.sum()), W.shape[1], generator=gen, dtype=W.dtype)
    b[dead] = torch.randn(int(dead.sum()), generator=gen, dtype=b.dtype)
    revived = land.layout.flatten(params)
    line = cooper_line(land, revived).path
    return Path([Segment(theta, silenced, None, "silence the dead units"),
                 Segment(silenced, revived, None, "redraw their incoming weights"), *line.segments])


def _line(land: Landscape, theta: torch.Tensor, gen: torch.Generator, p: WideLayerParams) -> dict:
    """The certified line from theta, and the revival path where last-hidden units are dead."""
    built = cooper_line(land, theta)
    L0 = float(land.loss(theta))
    tol = p.cert_rtol * max(1.0, L0)
    out = {"L0": L0, "line_end_loss": float(built.end_loss),
           "certificate": bool(certify(built.path, land, tol=tol).holds)}
    revival = revival_path(land, theta, gen)
    if revival is not None:
        out.update(revival_certificate=bool(certify(revival, land, tol=tol).holds),
                   revival_end_loss=float(land.loss(revival.segments[-1].end)))
    return out


def _fun_grad(land: Landscape):
    def fun_grad(x):
        value, g = land.loss_and_grad(torch.as_tensor(x))
        return float(value), g.numpy()
    return fun_grad


def measure(p: WideLayerParams) -> Measurement:
    """Per activation: ranks and descent lines at random points, and L-BFGS end points.

    Args:
        p: the parameters.

    Returns:
        The measurement: rows ``part = "rank"`` (ranks; the first ``line_points`` also the
        certified line) and ``part = "train"`` (end loss, gradient norm, ranks, the line from
        the end point), each with the hypothesis columns of the activation and data.
    """
    gen = check_generator(p.seed)
    X = torch.randn(p.n, p.in_dim, generator=gen, dtype=torch.float64)
    Y = torch.randn(p.n, 1, generator=gen, dtype=torch.float64)
    distinct = bool(torch.unique(X, dim=0).shape[0] == p.n)
    coordinate = bool(any(torch.unique(X[:, j]).numel() == p.n for j in range(p.in_dim)))
    rows = []
    for act in progress(p.activations, "activations"):
        phi = get_activation(act)
        derivs = derivatives_at_zero(act, p.n - 1)
        hyp = {"activation": act, "n": p.n, "width_last": int(p.widths[-1]), "in_dim": p.in_dim,
               "distinct_samples": distinct, "distinct_coordinate": coordinate,
               "strictly_increasing": bool(phi.strictly_increasing), "surjective": bool(phi.surjective),
               "shift_rank": shift_rank(act, p.shift_grid, p.rank_tau),
               "min_abs_derivative_at_0": float(min(abs(d) for d in derivs))}
        land = Landscape(mlp([p.in_dim, *p.widths, 1], act), (X, Y), loss="mse", reduction="sum")

        for k in range(p.rank_draws):
            theta = p.init_std * torch.randn(land.dim, generator=gen, dtype=torch.float64)
            row = {"part": "rank", "point": k, **hyp, **_ranks(land, theta, p.n, p.rank_tau)}
            if k < p.line_points:
                row.update(_line(land, theta, gen, p))
            rows.append(row)

        for k in range(p.train_runs):
            start = p.init_std * torch.randn(land.dim, generator=gen, dtype=torch.float64)
            res = lbfgs(_fun_grad(land), start.numpy(), max_iter=p.lbfgs_iter, max_fun=2 * p.lbfgs_iter,
                        grad_tol=0.0, value_tol=0.0, history_size=20)
            end = torch.as_tensor(res.x)
            rows.append({"part": "train", "point": k, **hyp, **_ranks(land, end, p.n, p.rank_tau),
                         "F": float(land.loss(end)), "grad_norm": float(land.grad(end).norm()),
                         **_line(land, end, gen, p)})
    table = pd.DataFrame(rows)
    for column in ("revival_certificate", "revival_end_loss"):
        if column not in table:
            table[column] = np.nan
    # the global value: least squares on [X, 1] for the linear net (closed form), else the best
    # value found (0 wherever some random point has rank [Z; 1] = n)
    ls = torch.linalg.lstsq(torch.cat([X, torch.ones(p.n, 1, dtype=X.dtype)], 1), Y).solution
    linear = float(((torch.cat([X, torch.ones(p.n, 1, dtype=X.dtype)], 1) @ ls - Y) ** 2).sum())
    best = table.groupby("activation")["line_end_loss"].min()
    table["global_value"] = [linear if a == "identity" else float(best[a]) for a in table["activation"]]
    return Measurement(table, {"shifts": list(SHIFTS), "linear_least_squares": linear})


def judge(m: Measurement, p: WideLayerParams) -> Verdict:
    """Per theorem, its covered instances: ranks at random points (T3.3, C4.1(b)), end points
    (T3.4, C4.1(a)), the descent lines (consistency) and the identity's erratum.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The verdict.
    """
    t = m.table
    verdict = Verdict()
    wide = (t["width_last"] >= t["n"]) & t["distinct_samples"].astype(bool)
    t33 = wide & t["strictly_increasing"].astype(bool) & t["surjective"].astype(bool) & (t["shift_rank"] == 3)
    t34 = wide & t["distinct_coordinate"].astype(bool)
    c41b = wide & (t["min_abs_derivative_at_0"] > 0)
    rank, train = t["part"] == "rank", t["part"] == "train"
    for name, mask in (("T3.3: phi strictly increasing onto R, independent of its shifts; d_{L-1} >= n; "
                        "distinct samples", t33),
                       ("T3.4: d_{L-1} >= n; distinct samples with a coordinate of distinct values", t34),
                       ("C4.1(b): phi^(k)(0) != 0 for k < n; d_{L-1} >= n", c41b)):
        verdict.hypothesis(name, f"{int(mask.sum())} of {len(t)} rows", "the rows of its activations",
                           bool(mask.any()), note=f"activations: {sorted(set(t.loc[mask, 'activation']))}")

    def full_rank(name: str, mask, claim: str) -> None:
        rows = t[mask & rank]
        if rows.empty:
            verdict.not_covered(name, "100% of draws", note=f"no random point meets {claim}'s hypotheses")
            return
        proportion_check(verdict, name, int((rows["rank_features"] == rows["n"]).sum()), len(rows), at_least=1.0,
                         min_draws=p.min_draws,
                         note=f"{sorted(set(rows['activation']))}: SVD at independent random points (relative "
                              f"threshold {p.rank_tau:g}); smallest sigma_min/sigma_max "
                              f"{float(rows['sv_ratio'].min()):.3g}; a deficient draw contradicts {claim}")

    full_rank("C4.1(b): rank Z = n at random points (full rank is dense)", c41b, "C4.1(b)")
    leaky = t[t33 & rank]
    ranks = (f"rank Z = n at {int((leaky['rank_features'] == leaky['n']).sum())} of {len(leaky)} random points "
             "(a piecewise-linear phi loses rank with positive probability when several points share one "
             "linear region, which T3.3 does not exclude: no rank evidence for it)") if len(leaky) else ""
    _no_trap(verdict, "T3.3: no L-BFGS end point lies in a spurious valley (at the global value, or a certified "
             "path down)", t[train & t33], p, ranks)
    _no_trap(verdict, "T3.4: no L-BFGS end point lies in a sub-optimal basin (at the global value, or a certified "
             "path down)", t[train & t34], p, "")
    crit = t[train & wide & (t["grad_norm"] <= p.grad_tol) & (t["rank_features"] == t["n"])]
    name = "C4.1(a): critical L-BFGS end points with rank Z = n have F = 0"
    if crit.empty:
        verdict.not_covered(name, f"F <= {p.zero_tol:g}", note="no end point is critical with full-rank features")
    else:
        verdict.add(name, float(crit["F"].max()), 0.0, p.zero_tol, bool((crit["F"] <= p.zero_tol).all()),
                    note=f"{len(crit)} end points ({sorted(set(crit['activation']))}), ||grad F|| <= {p.grad_tol:g}",
                    kind="evidence")
    lines = t[t["certificate"].notna() & wide & (t["rank_augmented"] == t["n"])]
    if not lines.empty:
        held = lines["certificate"].astype(bool) & (lines["line_end_loss"] <= p.zero_tol * lines["L0"].clip(lower=1))
        verdict.add("descent lines to the least-squares last layer certified, ending at F = 0, where "
                    "rank [Z; 1] = n", int(held.sum()), len(lines), p.cert_rtol, bool(held.all()),
                    note="L(t) = (1 - t)^2 L(theta) once rank [Z; 1] = n: algebra (COO-C5.9's line)",
                    kind="consistency")
    ident = t[(t["activation"] == "identity") & rank]
    if not ident.empty:
        sr, worst = int(ident["shift_rank"].iloc[0]), int(ident["rank_features"].max())
        bound = int(ident["in_dim"].iloc[0]) + 1
        verdict.add("the survey's 'T3.3 covers phi(t) = t': the identity fails the shift condition "
                    "(shift rank, largest rank Z)", [sr, worst], [2, f"<= {bound} < n = {int(ident['n'].iloc[0])}"],
                    None, sr == 2 and worst <= bound < int(ident["n"].iloc[0]),
                    note=f"rank [phi(s), phi(s - a1), phi(s - a2)] with (a1, a2) = {tuple(m.summary['shifts'])}; "
                         "t = c1 (t - a1) + c2 (t - a2) with c1 + c2 = 1, c1 a1 + c2 a2 = 0; the erratum is "
                         "reproduced when the rank is 2", kind="erratum")
    return verdict


def _no_trap(verdict: Verdict, name: str, ends: pd.DataFrame, p: WideLayerParams, extra: str) -> None:
    """End points at the global value or with a certified path down escape; a critical end
    point above it without one is a candidate spurious minimum (the check fails); a
    non-critical one (the optimiser stopped short) does not decide."""
    if ends.empty:
        verdict.not_covered(name, "every end point", note="no end point meets the theorem's hypotheses")
        return
    level = ends["global_value"] + p.value_rtol * ends["global_value"].clip(lower=1.0)
    at_global = ends["F"] <= level
    by_line = ends["certificate"].astype(bool) & (ends["line_end_loss"] <= level)
    by_revival = (ends["revival_certificate"] == True) & (ends["revival_end_loss"] <= level)  # noqa: E712
    escaped = at_global | by_line | by_revival
    critical = ends["grad_norm"] <= p.grad_tol
    trapped, decided = int((~escaped & critical).sum()), int((escaped | critical).sum())
    note = (f"{sorted(set(ends['activation']))}: {int(at_global.sum())} at the global value (0, or least squares "
            f"on [X, 1] for the identity), {int((~at_global & by_line).sum())} by the certified line, "
            f"{int((~at_global & ~by_line & by_revival).sum())} by reviving dead units then the line, "
            f"{trapped} critical without a path down, {len(ends) - decided} non-critical "
            f"(||grad|| > {p.grad_tol:g}: the optimiser stopped short, no decision); a valley holding no global "
            "minimum would keep the runs it catches at critical points above the global value")
    if extra:
        note += "; " + extra
    verdict.add(name, f"{decided - trapped} of {decided} decided end points", "all", p.value_rtol,
                decided > 0 and trapped == 0, note=note, kind="evidence",
                status=None if decided else "insufficient draws")


def draw(m: Measurement, p: WideLayerParams) -> dict:
    """Histogram of sigma_min/sigma_max of the features at random points, per activation.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        ``{"feature_rank": figure}``.
    """
    t = m.table[m.table["part"] == "rank"]
    fig, (ax,) = figure(width=6)
    for act, sub in t.groupby("activation"):
        ax.hist(np.log10(sub["sv_ratio"].clip(lower=1e-20)), bins=30, alpha=0.5, label=act)
    ax.axvline(np.log10(p.rank_tau), color="k", ls="--", lw=1, label="rank threshold")
    ax.set(xlabel="log10 sigma_min / sigma_max of Z", ylabel="random points",
           title=f"Last hidden features, n = {p.n}, d_(L-1) = {p.widths[-1]}")
    ax.legend(fontsize=7)
    return {"feature_rank": fig}


sun_wide_layer = experiment(
    "sun-wide-layer", source=SOURCE_001 + ", Theorems 3.3, 3.4 and Corollary 4.1",
    claim="SUN-T3.3/T3.4/C4.1: with d_{L-1} >= n, L-BFGS ends in no spurious valley (leaky-ReLU) and no "
          "sub-optimal basin (ReLU allowed), critical points with full-rank features are global, e^t - 1 "
          "features have rank n at random points; phi(t) = t fails T3.3's shift condition",
    params=WideLayerParams, judge=judge, draw=draw)(measure)
