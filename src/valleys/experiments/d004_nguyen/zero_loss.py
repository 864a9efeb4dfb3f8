"""Document 004 (Nguyen thesis), chapter 2: one wide layer makes the features linearly independent.

``nguyen-zero-loss``: NG-T2.4.11 by NG-A2, and Levenberg–Marquardt (or L-BFGS) from many starts on
wide sigmoid nets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from ...core import Landscape
from ...expressivity import matrix_feature_rank
from ...literature.nguyen2019 import zero_loss_construction
from ...nets import mlp
from ...record import Measurement
from ...train import GRAD_TOL, NO_PROGRESS, fit
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2, noisy_digits, one_hot


# --------------------------------------------------------------------- nguyen-zero-loss
@dataclass(frozen=True)
class ZeroLossParams(Params):
    """Parameters of ``nguyen-zero-loss``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: digits used (N). The quick preset's N = 70 > d + 1 = 65: with N <= d the
            data alone already have rank N.
        residual_tol: NG-A2 passes when max |F_L - Y| <= residual_tol.
        n_starts: random starts of the local method on the wide net.
        width: n_1 of the trained sigmoid net [64, width, 10] (k = L - 1). The theorem needs
            width >= N; runs below it are reported as not covered.
        method: the local method: ``"lm"`` (Levenberg–Marquardt, damped Gauss–Newton descent
            on all parameters) or ``"lbfgs"``. CLAIMS §6 item 18 says gradient descent; on
            these ill-conditioned sigmoid features first-order methods do not reach a
            critical point in a CPU budget (L-BFGS: loss ratio 1.7e-4 and no stationary
            run after 3000 evaluations from 40 starts), so the default is the second-order one.
        max_evals: budget per start: L-BFGS function evaluations or LM trial steps.
        grad_tol: a run is stationary when ||grad|| <= grad_tol (loss: 1/2 sum ||f - y||^2); a run
            that the method ends by itself (no decrease possible in float64) counts as stationary too.
        loss_ratio: a stationary run is global when loss <= loss_ratio * initial loss.
    """

    n_samples: int = 200
    residual_tol: float = 1e-8
    n_starts: int = 100
    width: int = 256
    method: str = "lm"
    max_evals: int = 3000
    grad_tol: float = 1e-6
    loss_ratio: float = 1e-8
    QUICK = {"n_samples": 70, "n_starts": 3, "width": 72, "max_evals": 1500}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [2, 1797]", "residual_tol": "> 0", "n_starts": ">= 1", "width": ">= 1",
        "method": "one of lm|lbfgs", "max_evals": ">= 1", "grad_tol": "> 0", "loss_ratio": "> 0"}


def measure(p: ZeroLossParams) -> Measurement:
    """The NG-A2 construction on four architectures per activation, then the local method from
    ``n_starts`` random starts on the wide sigmoid net: where each run ends.

    Args:
        p: the parameters.

    Returns:
        Rows of part ``"construction"`` (NG-A2 per activation and architecture: residual,
        ranks, S_k membership) and one row per run of the local method (final loss,
        gradient norm, rank F_1, stationarity, whether global).
    """
    X, y = noisy_digits(p.n_samples, 0.0, p.seed)
    N = X.shape[0]
    rows = []
    cases = [(1, [64, N, 10]), (1, [64, N + 20, 15, 10]), (2, [64, 40, N + 10, 12, 10]),
             (1, [64, N + 5, 30, 20, 10])]
    for act in ("sigmoid", "softplus"):
        for k, widths in cases:
            z = zero_loss_construction(X, y, widths, k, act, seed=p.seed)
            full = z.rank_Fk == N and all(r == f for r, f in z.ranks_U)
            rows.append({"part": "construction", "activation": act, "k": k, "widths": str(widths),
                         "N": N, "n_k": widths[k],
                         "pyramidal": all(a >= b for a, b in zip(widths[k + 1:-1], widths[k + 2:], strict=True)),
                         "residual": z.residual, "rank_Fk": z.rank_Fk,
                         "ranks_U": str(z.ranks_U), "in_S_k": full})
    widths = [64, p.width, 10]
    rows += [_zero_loss_start(p, X, one_hot(y), widths, s) for s in progress(range(p.n_starts), "starts")]
    return Measurement(pd.DataFrame(rows), {"widths": widths, "method": p.method}, extras={"N": N})


def _runs(m: Measurement, p: ZeroLossParams) -> pd.DataFrame:
    """The rows of the local method's runs, with their own column types."""
    return m.table[m.table.part == p.method].reset_index(drop=True).infer_objects()


def judge(m: Measurement, p: ZeroLossParams) -> Verdict:
    """NG-A2's residual on the architectures that meet the hypotheses (S_k membership as
    consistency); on the runs with width >= N: every stationary run in S_1 is global, and every
    run ends stationary at a global minimum (CLAIMS §6 item 18, the optimiser's behaviour).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict (hypotheses: wide layer and pyramidal top per architecture, width >= N
        per run, runs ending at a critical point in S_1).
    """
    verdict = Verdict()
    built = m.table[m.table.part == "construction"]
    wide = (built.n_k >= built.N) & built.pyramidal.astype(bool)
    verdict.hypothesis("NG-A2 architectures: wide layer n_k >= N and pyramidal top (NG-C2.4.12)",
                       f"{int(wide.sum())} of {len(built)} cases", "n_k >= N, n_{k+1} >= ... >= n_L",
                       bool(wide.any()))
    built = built[wide]
    if built.empty:
        verdict.not_covered("NG-A2 max |F_L - Y| over all cases", 0.0, "no architecture meets the hypotheses")
    else:
        worst = max([0.0, *built.residual.tolist()])
        verdict.add("NG-A2 max |F_L - Y| over all cases", worst, 0.0, p.residual_tol, worst <= p.residual_tol,
                    note="the outputs of the constructed net computed by a forward pass and compared with "
                         "the one-hot targets (T2.4.11 (2): zero-loss minima exist)", kind="evidence")
        rank_ok = bool(built.in_S_k.astype(bool).all())
        verdict.add("NG-A2 points lie in S_k (rank F_k = N, U_{k+2..L} full rank)", rank_ok, True, None, rank_ok,
                    note="consistency: NG-A2 builds F_k with linearly independent rows and full-rank U_l",
                    kind="consistency")
    runs = _runs(m, p)
    wide_runs = runs[runs.width >= runs.N]
    verdict.hypothesis("trained net: width n_1 >= N (NG-C2.4.12)", f"{len(wide_runs)} of {len(runs)} runs",
                       "n_1 >= N", not wide_runs.empty,
                       note=f"width {int(runs.width.iloc[0])}, N = {int(runs.N.iloc[0])}" if len(runs) else "")
    stationary = wide_runs[wide_runs.stationary]
    covered = stationary[stationary.in_S_1]  # the theorem speaks of critical points in S_1 only
    name = (f"stationary runs in S_1 ({p.method}: ||grad|| <= grad_tol, or ended by itself with no "
            "decrease possible in float64; Press-rank F_1 = N) with loss <= loss_ratio * initial")
    verdict.hypothesis("runs that end at a critical point in S_1 (T2.4.11 (1))",
                       f"{len(covered)} of {len(wide_runs)} runs", ">= 1", not covered.empty,
                       note=f"{len(stationary)} stationary, {len(stationary) - len(covered)} of them outside S_1")
    if covered.empty:
        verdict.not_covered(name, "all", "no run with width >= N ended at a critical point in S_1")
    else:
        bad = covered[~covered["global"]]
        verdict.add(name, f"{len(covered) - len(bad)}/{len(covered)}", "all", p.loss_ratio, bad.empty,
                    note="T2.4.11 (1): the loss at a stationary end point in S_1, from the landscape", kind="evidence")
    item = "every run ends with ||grad|| <= grad_tol at loss <= loss_ratio * initial (CLAIMS §6 item 18)"
    if wide_runs.empty:
        verdict.not_covered(item, "all runs", "no run with width >= N")
    else:
        good = wide_runs["global"] & (wide_runs.grad_norm <= p.grad_tol)
        verdict.add(item, int(good.sum()), len(wide_runs), p.loss_ratio, bool(good.all()),
                    note=("evidence for CLAIMS §6 item 18 (the optimiser reaches a zero-loss minimum from "
                          "every start on a net with width >= N), not for T2.4.11 itself, which speaks only of "
                          "critical points in S_k; the same happens below the width, so it does not show that "
                          "the width is needed. "
                          f"max final loss / initial = {float((wide_runs.loss / wide_runs.initial_loss).max()):.3g}, "
                          f"max ||grad|| = {float(wide_runs.grad_norm.max()):.3g}, "
                          f"median steps = {float(wide_runs.evals.median()):g}"),
                    kind="evidence")
    return verdict


def draw(m: Measurement, p: ZeroLossParams) -> dict:
    """Final gradient norm against final loss / initial loss, one point per run.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"final_points": figure}``.
    """
    fr = _runs(m, p)
    fig, (ax,) = figure()
    ax.loglog(fr.grad_norm.clip(lower=1e-300), (fr.loss / fr.initial_loss).clip(lower=1e-300), "o")
    ax.axvline(p.grad_tol, color="k", lw=0.5)
    ax.axhline(p.loss_ratio, color="k", lw=0.5)
    ax.set(xlabel="final ||grad||", ylabel="final loss / initial",
           title=f"{p.method}, sigmoid {m.summary['widths']}, N = {m.extras['N']}")
    return {"final_points": fig}


nguyen_zero_loss = experiment(
    "nguyen-zero-loss", source=SOURCE_004_CH2 + ", Thm 2.4.11 (construction and training)",
    claim="NG-T2.4.11 / NG-A2: with a wide layer and a pyramidal top there are zero-loss "
          "minima in S_k, and every critical point in S_k reached by a local method is global",
    params=ZeroLossParams, judge=judge, draw=draw)(measure)


def _zero_loss_start(p: ZeroLossParams, X, Y, widths, s: int) -> dict:
    """One random start of the local method on the wide sigmoid net: where it ends."""
    land = Landscape(mlp(widths, "sigmoid", seed=p.seed + 1000 + s), (X, Y), loss="half_squared",
                     reduction="sum")
    L0 = float(land.loss(land.theta0))
    extra = {"history_size": 50} if p.method == "lbfgs" else {}
    res = fit(land, method=p.method, lr=1.0, steps=p.max_evals, grad_tol=p.grad_tol,
              record_every=p.max_evals, progress=False, **extra)
    g = float(land.grad(res.theta).norm())
    rank = matrix_feature_rank(land.features(res.theta, 1)).rank
    return {"part": p.method, "start": s, "N": X.shape[0], "width": widths[1], "initial_loss": L0,
            "loss": res.loss, "grad_norm": g,
            "rank_F1": rank, "in_S_1": rank == X.shape[0], "reason": res.reason, "evals": res.steps,
            "stationary": g <= p.grad_tol or res.reason in (GRAD_TOL, NO_PROGRESS),
            "global": res.loss <= p.loss_ratio * L0}
