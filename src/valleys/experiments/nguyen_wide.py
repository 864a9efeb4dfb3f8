"""Document 004 (Nguyen thesis), chapter 2: one wide layer makes the features linearly independent.

- ``nguyen-feature-rank``: NG-T2.4.5 and the Table 2.2 analogue on digits (Press rank of F_1).
- ``nguyen-independent-features``: NG-T2.4.4 by the construction NG-A1 (FC and conv).
- ``nguyen-zero-loss``: NG-T2.4.11 by NG-A2, and Levenberg–Marquardt (or L-BFGS) from many starts on
  wide sigmoid nets.
- ``nguyen-gradient-bounds``: NG-L2.4.9 on random pyramidal-top instances (and NG-T2.4.10).

The thesis' Table 2.2 is MNIST (N = 60000, GPU, single precision); the digits analogue
(N = 1797, float64, CPU) can only be compared with it qualitatively: same pattern
(full rank for every T_1), not the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from .._validation import check_generator
from ..core import Landscape
from ..data import digits
from ..expressivity import (
    gradient_bounds,
    independent_conv_features,
    independent_features,
    matrix_feature_rank,
    zero_loss_construction,
)
from ..expressivity.constructions import backprop_deltas
from ..expressivity.features import fc_forward
from ..nets import conv_net, get_activation, mlp
from ..train import GRAD_TOL, NO_PROGRESS, fit
from .common import figure, progress
from .params import Params
from .registry import experiment
from .result import Result, Verdict

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 2"

#: Table 2.2 of the thesis (MNIST, N = 60000): T_1 -> (rank F_1, sigma_min F_1, train error, test error).
THESIS_TABLE_2_2 = {10: (6760, 3.7e-6, 8, 151), 20: (13520, 2.2e-6, 1, 132), 30: (20280, 1.5e-6, 0, 174),
                    40: (27040, 2.0e-6, 0, 124), 50: (33800, 1.3e-6, 0, 143), 60: (40560, 1.1e-6, 0, 141),
                    70: (47320, 7.5e-7, 0, 120), 80: (54080, 5.4e-7, 0, 140), 89: (60000, 2.0e-8, 0, 117),
                    100: (60000, 1.1e-6, 0, 139)}


def noisy_digits(n: int, noise_std: float, seed: int):
    """Digits (pixels / 16) plus N(0, noise_std^2) noise (Assumption 2.4.1: distinct patches)."""
    ds = digits(n=n, seed=seed)
    gen = check_generator(seed + 1)
    return ds.X + noise_std * torch.randn(ds.X.shape, generator=gen, dtype=torch.float64), ds.y


def one_hot(y: torch.Tensor, m: int = 10) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, m).to(torch.float64)


# ------------------------------------------------------------------ nguyen-feature-rank
@dataclass(frozen=True)
class FeatureRankParams(Params):
    """Parameters of ``nguyen-feature-rank``.

    Attributes:
        n_samples: digits used (N; 1797 = all).
        noise_std: std of the Gaussian noise added to the pixels (thesis: N(0, 1e-5)).
        channels: T_1 of the 3x3 convolution (n_1 = 36 T_1).
        train_steps: full-batch steps (Nesterov momentum, cross-entropy) of the trained nets.
        lr: their learning rate; momentum: their momentum.
        fc_sizes: N of the fully connected random-draw check (n_1 in {N, 2N}).
        fc_draws: random Gaussian draws per (N, n_1, activation).
    """

    n_samples: int = 1797
    noise_std: float = math.sqrt(1e-5)
    channels: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 80)
    train_steps: int = 300
    lr: float = 0.5
    momentum: float = 0.9
    fc_sizes: tuple[int, ...] = (50, 200)
    fc_draws: int = 100
    QUICK = {"n_samples": 300, "channels": (5, 10), "train_steps": 40, "fc_sizes": (50,), "fc_draws": 20}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [2, 1797]", "noise_std": ">= 0", "channels": "nonempty, >= 1",
        "train_steps": ">= 0", "lr": "> 0", "momentum": "in [0, 1]", "fc_sizes": "nonempty, >= 2",
        "fc_draws": ">= 1"}


@experiment("nguyen-feature-rank", source=SOURCE_004 + ", Thm 2.4.5 and Table 2.2",
            claim="NG-T2.4.5: with n_1 >= N and analytic sigma, rank F_1 = N for almost every "
                  "parameter; Table 2.2 analogue: Press-rank F_1 = min(N, 36 T_1) random and trained",
            params=FeatureRankParams)
def nguyen_feature_rank(p: FeatureRankParams) -> Result:
    X, y = noisy_digits(p.n_samples, p.noise_std, p.seed)
    N, Y = X.shape[0], one_hot(y)
    verdict, rows = Verdict(), []
    bad, solves = [], []
    for T in progress(p.channels, "channels"):
        net = conv_net((1, 8, 8), channels=T, activation="sigmoid", seed=p.seed + T)
        land = Landscape(net, (X, y), loss="ce")
        res = fit(land, lr=p.lr, steps=p.train_steps, momentum=p.momentum, nesterov=True,
                  record_every=max(1, p.train_steps), progress=False)
        for state, theta in (("random", land.theta0), ("trained", res.theta)):
            with torch.no_grad():
                F1 = land.features(theta, 1)
            r = matrix_feature_rank(F1)
            expected = min(N, F1.shape[1])
            row = {"source": "ours (digits)", "T1": T, "state": state, "n1": F1.shape[1], "N": N,
                   "rank_F1": r.rank, "expected": expected, "sigma_min": r.sigma_min,
                   "sigma_max": r.sigma_max, "press_threshold": r.threshold,
                   "ce_loss": float(land.loss(theta)),
                   "train_error": int((land.outputs(theta).argmax(1) != y).sum())}
            if F1.shape[1] >= N:  # NG-C2.4.6: a linear solve on F_1 fits any targets
                W = torch.linalg.lstsq(F1, Y, driver="gelsd").solution
                row["solve_train_error"] = int(((F1 @ W).argmax(1) != y).sum())
                row["solve_residual"] = float((F1 @ W - Y).abs().max())
                solves.append(row["solve_train_error"])
            if r.rank != expected:
                bad.append((T, state, r.rank, expected))
            rows.append(row)
    for T, (rank, smin, tr, te) in THESIS_TABLE_2_2.items():
        rows.append({"source": "thesis (MNIST, N=60000, GPU float32)", "T1": T, "state": "trained",
                     "n1": 676 * T, "N": 60000, "rank_F1": rank, "expected": min(60000, 676 * T),
                     "sigma_min": smin, "train_error": tr, "test_error": te})
    verdict.add("conv F_1 Press rank = min(N, 36 T_1), random and trained (all T_1)",
                f"{2 * len(p.channels) - len(bad)}/{2 * len(p.channels)}", "all", None, not bad,
                note=f"mismatches (T1, state, rank, expected): {bad}" if bad else "", kind="evidence")
    if solves:
        verdict.add("linear solve on F_1 when 36 T_1 >= N: training errors", max(solves), 0, None,
                    max(solves) == 0, note="NG-C2.4.6", kind="evidence")

    fc_rows = _fc_draws(p)
    rows += fc_rows
    fc = pd.DataFrame(fc_rows)
    analytic = fc[fc.activation != "relu"]
    frac = float((analytic.rank_F1 == analytic.N).mean())
    verdict.add("FC random draws (sigmoid, softplus; n_1 in {N, 2N}) with Press rank N", frac, 1.0,
                None, frac == 1.0, note=f"{len(analytic)} draws", kind="evidence")
    relu = fc[fc.activation == "relu"]
    relu_frac = float((relu.rank_F1 == relu.N).mean()) if len(relu) else math.nan

    table = pd.DataFrame(rows)
    fig, (ax,) = figure()
    ours = table[table.source.str.startswith("ours")]
    for state, marker in (("random", "o"), ("trained", "x")):
        sub = ours[ours.state == state]
        ax.plot(sub.n1, sub.rank_F1, marker, label=f"rank F_1 ({state})")
    ax.plot(ours.n1, ours.expected, "k--", lw=1, label="min(N, n_1)")
    ax.set(xlabel="n_1 = 36 T_1", ylabel="Press rank of F_1", title=f"digits, N = {N}, sigmoid conv 3x3")
    ax.legend(fontsize=7)
    return Result(table, verdict, {"rank_vs_width": fig},
                  {"relu_full_rank_fraction": relu_frac, "noise_std": p.noise_std,
                   "comparison": "qualitative: thesis table is MNIST N=60000 float32 on GPU"})


def _fc_draws(p: FeatureRankParams) -> list[dict]:
    gen = check_generator(p.seed + 99)
    rows = []
    for N in p.fc_sizes:
        X, _ = noisy_digits(min(N, 1797), p.noise_std, p.seed + N)
        for n1 in (N, 2 * N):
            for act_name in ("sigmoid", "softplus", "relu"):
                act = get_activation(act_name)
                W = torch.randn(p.fc_draws, X.shape[1], n1, generator=gen, dtype=torch.float64)
                b = torch.randn(p.fc_draws, 1, n1, generator=gen, dtype=torch.float64)
                F = act(X @ W / math.sqrt(X.shape[1]) + b)
                for Fi in F:
                    r = matrix_feature_rank(Fi)
                    rows.append({"source": "ours (FC random draws)", "activation": act_name, "N": N,
                                 "n1": n1, "rank_F1": r.rank, "sigma_min": r.sigma_min,
                                 "expected": N})
    return rows


# ---------------------------------------------------------- nguyen-independent-features
@dataclass(frozen=True)
class IndependentParams(Params):
    """Parameters of ``nguyen-independent-features``.

    Attributes:
        n_samples: digits used (N).
        noise_std: pixel noise (Assumption 2.4.1: no two samples share a patch).
        scales: c = alpha * min_gap of NG-A1 (entries below the diagonal <= sigma(beta - c)).
        beta: the bias offset (sigma(beta) != 0).
        limit_rtol: relative distance of sigma_min(F) to its alpha -> infinity limit (sigmoid)
            and of log|det| to N log sigma(beta), at the largest scale.
        exact_tol: rounding allowed on the certificates (ReLU diagonal, relative; entries below the
            diagonal, absolute): the pre-activations alpha <a, x> are O(1e5) before cancelling.
    """

    n_samples: int = 200
    noise_std: float = 1e-3
    scales: tuple[float, ...] = (1.0, 4.0, 16.0, 64.0)
    beta: float = 1.0
    limit_rtol: float = 1e-6
    exact_tol: float = 1e-8
    QUICK = {"n_samples": 60}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [2, 1797]", "noise_std": "> 0", "scales": "nonempty, > 0", "beta": "> 0",
        "limit_rtol": "> 0", "exact_tol": "> 0"}


@experiment("nguyen-independent-features", source=SOURCE_004 + ", Thm 2.4.4 (construction)",
            claim="NG-T2.4.4 / NG-A1: a wide layer (n_k >= N) has parameters with rank F_k = N "
                  "(ReLU, sigmoid, softplus; FC and conv); linear control rank <= d + 1",
            params=IndependentParams)
def nguyen_independent_features(p: IndependentParams) -> Result:
    X, _ = noisy_digits(p.n_samples, p.noise_std, p.seed)
    N, d = X.shape
    channels = math.ceil(N / 36)
    verdict, rows = Verdict(), []
    results = {}
    for layer in progress(("fc", "conv"), "layers"):
        for act in ("sigmoid", "relu", "softplus", "tanh"):
            for c in p.scales:
                if layer == "fc":
                    r = independent_features(X, N, act, scale=c, beta=p.beta, seed=p.seed)
                else:
                    r = independent_conv_features(X, (1, 8, 8), 3, channels, act, scale=c, beta=p.beta,
                                                  seed=p.seed)
                fr = matrix_feature_rank(r.features)
                s_beta = float(get_activation(act)(torch.tensor(p.beta, dtype=torch.float64)))
                bound = float(get_activation(act)(torch.tensor(p.beta - c, dtype=torch.float64)))
                logdet = float(torch.linalg.slogdet(r.square).logabsdet)
                rows.append({"layer": layer, "activation": act, "scale": c, "alpha": r.alpha, "N": N,
                             "n": fr.n_cols, "press_rank": fr.rank, "sigma_min": fr.sigma_min,
                             "sigma_max": fr.sigma_max, "lower_max": r.lower_max,
                             "lower_bound": abs(bound),
                             "logdet_minus_N_log_sigma_beta": logdet - N * math.log(abs(s_beta))})
                results[(layer, act, c)] = r
    table = pd.DataFrame(rows)
    top = max(p.scales)
    for layer in ("fc", "conv"):
        sig = table[(table.layer == layer) & (table.activation == "sigmoid")]
        full = sig[sig.scale >= 4.0] if (sig.scale >= 4.0).any() else sig
        verdict.add(f"{layer}: sigmoid Press rank F = N at every scale >= 4", full.press_rank.tolist(), N,
                    None, bool((full.press_rank == N).all()), kind="evidence")
        r = results[(layer, "sigmoid", top)]
        lim = matrix_feature_rank(r.limit("sigmoid")).sigma_min
        got = float(sig[sig.scale == top].sigma_min.iloc[0])
        rel = abs(got - lim) / lim
        verdict.add(f"{layer}: sigmoid sigma_min(F) at the largest scale vs the alpha -> inf limit "
                    "(closed-form 0 / sigma(beta) / 1 pattern)", rel, 0.0, p.limit_rtol, rel <= p.limit_rtol,
                    note=f"sigma_min {got:.4g}, limit {lim:.4g}", kind="evidence")
        ld = float(sig[sig.scale == top].logdet_minus_N_log_sigma_beta.iloc[0])
        verdict.add(f"{layer}: sigmoid log|det F[order, :N]| - N log sigma(beta) -> 0", abs(ld), 0.0,
                    p.limit_rtol, abs(ld) <= p.limit_rtol, kind="evidence")
        bounded = table[(table.layer == layer) & (table.activation != "tanh")]
        ok = bool((bounded.lower_max <= bounded.lower_bound + p.exact_tol).all())
        verdict.add(f"{layer}: entries below the diagonal <= sigma(beta - c) (ReLU, sigmoid, softplus)",
                    float((bounded.lower_max - bounded.lower_bound).max()), "<= 0", p.exact_tol, ok,
                    note="measured: max over scales of (largest entry below the diagonal) - sigma(beta - c)",
                    kind="consistency")
        relu = results[(layer, "relu", top)]
        S = relu.square
        lower_zero = bool((torch.tril(S, -1) == 0).all())
        diag_err = float((S.diagonal() - p.beta).abs().max() / p.beta)
        sel = (table.layer == layer) & (table.activation == "relu") & (table.scale == top)
        relu_press = int(table[sel].press_rank.iloc[0])
        verdict.add(f"{layer}: ReLU exact certificate at c > beta: F[order, :N] upper triangular with "
                    "diagonal beta, so det = beta^N != 0 and rank F = N in exact arithmetic",
                    {"lower_all_zero": lower_zero, "diag_rel_err": diag_err}, "lower zero, diag = beta",
                    p.exact_tol, lower_zero and diag_err <= p.exact_tol,
                    note=f"the float64 Press rank is {relu_press}: "
                         "the construction's large entries above the diagonal make F ill-conditioned",
                    kind="evidence")
    # linear control: sigma(t) = t gives rank <= d + 1
    lin = independent_features(X, N, "identity", scale=top, beta=p.beta, seed=p.seed)
    lin_rank = matrix_feature_rank(lin.features).rank
    verdict.add("linear control sigma(t) = t: rank F <= d + 1 < N", lin_rank, f"<= {d + 1}", None,
                lin_rank <= d + 1 and (N <= d + 1 or lin_rank < N), kind="evidence")
    rows_lin = {"layer": "fc", "activation": "identity", "scale": top, "N": N, "n": N, "press_rank": lin_rank}
    table = pd.concat([table, pd.DataFrame([rows_lin])], ignore_index=True)

    fig, axes = figure(2, width=4.5)
    for ax, layer in zip(axes, ("fc", "conv"), strict=True):
        for act in ("sigmoid", "relu", "softplus", "tanh"):
            sub = table[(table.layer == layer) & (table.activation == act)]
            ax.semilogy(sub.scale, sub.sigma_min.clip(lower=1e-20), "o-", label=act)
        ax.set(xscale="log", xlabel="scale c = alpha min_gap", ylabel="sigma_min(F)", title=f"NG-A1, {layer}, N = {N}")
        ax.legend(fontsize=7)
    tanh = table[table.activation == "tanh"]
    return Result(table, verdict, {"sigma_min_vs_scale": fig},
                  {"tanh_probe_press_ranks": tanh.press_rank.tolist(), "conv_channels": channels,
                   "relu_softplus_press_ranks": table[table.activation.isin(["relu", "softplus"])].press_rank.tolist()})


# --------------------------------------------------------------------- nguyen-zero-loss
@dataclass(frozen=True)
class ZeroLossParams(Params):
    """Parameters of ``nguyen-zero-loss``.

    Attributes:
        n_samples: digits used (N).
        residual_tol: NG-A2 passes when max |F_L - Y| <= residual_tol.
        n_starts: random starts of the local method on the wide net.
        width: n_1 of the trained sigmoid net [64, width, 10] (width >= N, k = L - 1).
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
    QUICK = {"n_samples": 20, "n_starts": 3, "width": 40, "max_evals": 1500}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [2, 1797]", "residual_tol": "> 0", "n_starts": ">= 1", "width": ">= 1",
        "method": "one of lm|lbfgs", "max_evals": ">= 1", "grad_tol": "> 0", "loss_ratio": "> 0"}


@experiment("nguyen-zero-loss", source=SOURCE_004 + ", Thm 2.4.11 (construction and training)",
            claim="NG-T2.4.11 / NG-A2: with a wide layer and a pyramidal top there are zero-loss "
                  "minima in S_k, and every critical point in S_k reached by a local method is global",
            params=ZeroLossParams)
def nguyen_zero_loss(p: ZeroLossParams) -> Result:
    X, y = noisy_digits(p.n_samples, 0.0, p.seed)
    N = X.shape[0]
    verdict, rows = Verdict(), []
    cases = [(1, [64, N, 10]), (1, [64, N + 20, 15, 10]), (2, [64, 40, N + 10, 12, 10]),
             (1, [64, N + 5, 30, 20, 10])]
    worst, rank_ok = 0.0, True
    for act in ("sigmoid", "softplus"):
        for k, widths in cases:
            z = zero_loss_construction(X, y, widths, k, act, seed=p.seed)
            full = z.rank_Fk == N and all(r == f for r, f in z.ranks_U)
            rank_ok &= full
            worst = max(worst, z.residual)
            rows.append({"part": "construction", "activation": act, "k": k, "widths": str(widths),
                         "residual": z.residual, "rank_Fk": z.rank_Fk,
                         "ranks_U": str(z.ranks_U), "in_S_k": full})
    verdict.add("NG-A2 max |F_L - Y| over all cases", worst, 0.0, p.residual_tol, worst <= p.residual_tol,
                kind="evidence")
    verdict.add("NG-A2 points lie in S_k (rank F_k = N, U_{k+2..L} full rank)", rank_ok, True, None, rank_ok,
                kind="evidence")

    widths = [64, p.width, 10]
    finals = [_zero_loss_start(p, X, one_hot(y), widths, s) for s in progress(range(p.n_starts), "starts")]
    rows += finals
    fr = pd.DataFrame(finals)
    stationary = fr[fr.stationary]
    covered = stationary[stationary.in_S_1]  # the theorem speaks of critical points in S_1 only
    bad = covered[~covered["global"]]
    verdict.add(f"stationary runs in S_1 ({p.method}: ||grad|| <= grad_tol, or ended by itself with no "
                "decrease possible in float64; Press-rank F_1 = N) with loss <= loss_ratio * initial",
                f"{len(covered) - len(bad)}/{len(covered)}", "all", p.loss_ratio,
                len(covered) > 0 and bad.empty,
                note=(f"{len(fr)} starts, {len(stationary)} stationary, {len(stationary) - len(covered)} of "
                      "them outside S_1; no stationary run in S_1 means the check cannot speak"),
                kind="evidence")
    ended = bool((fr["global"] & (fr.grad_norm <= p.grad_tol)).all())
    verdict.add("every run ends with ||grad|| <= grad_tol at loss <= loss_ratio * initial (CLAIMS §6 item 18)",
                int((fr["global"] & (fr.grad_norm <= p.grad_tol)).sum()), len(fr), p.loss_ratio, ended,
                note=(f"max final loss / initial = {float((fr.loss / fr.initial_loss).max()):.3g}, "
                      f"max ||grad|| = {float(fr.grad_norm.max()):.3g}, median steps = {float(fr.evals.median()):g}"),
                kind="evidence")
    fig, (ax,) = figure()
    ax.loglog(fr.grad_norm.clip(lower=1e-300), (fr.loss / fr.initial_loss).clip(lower=1e-300), "o")
    ax.axvline(p.grad_tol, color="k", lw=0.5)
    ax.axhline(p.loss_ratio, color="k", lw=0.5)
    ax.set(xlabel="final ||grad||", ylabel="final loss / initial",
           title=f"{p.method}, sigmoid {widths}, N = {N}")
    return Result(pd.DataFrame(rows), verdict, {"final_points": fig}, {"widths": widths, "method": p.method})


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
    return {"part": p.method, "start": s, "initial_loss": L0, "loss": res.loss, "grad_norm": g,
            "rank_F1": rank, "in_S_1": rank == X.shape[0], "reason": res.reason, "evals": res.steps,
            "stationary": g <= p.grad_tol or res.reason in (GRAD_TOL, NO_PROGRESS),
            "global": res.loss <= p.loss_ratio * L0}


# ---------------------------------------------------------------- nguyen-gradient-bounds
@dataclass(frozen=True)
class GradientBoundsParams(Params):
    """Parameters of ``nguyen-gradient-bounds``.

    Attributes:
        n_instances: random instances (sizes, weights, targets).
        max_samples: N is drawn in [3, max_samples].
        slack: relative slack allowed on each inequality (>= -slack).
        grad_rtol: relative agreement of the backprop recursion with autograd.
        zero_tol: gradient norm counted as zero at the NG-A2 zero-loss points (NG-T2.4.10).
    """

    n_instances: int = 1000
    max_samples: int = 12
    slack: float = 1e-12
    grad_rtol: float = 1e-10
    zero_tol: float = 1e-7
    QUICK = {"n_instances": 150}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_instances": ">= 1", "max_samples": ">= 3", "slack": ">= 0", "grad_rtol": "> 0", "zero_tol": "> 0"}


@experiment("nguyen-gradient-bounds", source=SOURCE_004 + ", Lemma 2.4.9 and Thm 2.4.10",
            claim="NG-L2.4.9: sigma_min(F_k) prod(...) ||F_L - Y|| <= ||grad_{U_{k+1}} Phi|| <= "
                  "sigma_max(F_k) prod(...) ||F_L - Y|| on random pyramidal-top instances; "
                  "NG-T2.4.10: the gradient vanishes at zero loss",
            params=GradientBoundsParams)
def nguyen_gradient_bounds(p: GradientBoundsParams) -> Result:
    gen = check_generator(p.seed)
    verdict, rows = Verdict(), []

    def randint(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=gen))

    for i in progress(range(p.n_instances), "instances"):
        act = ("sigmoid", "softplus")[i % 2]
        N, d = randint(3, p.max_samples), randint(2, 6)
        L = randint(2, 4)
        k = randint(1, L - 1)
        widths = [d] + [randint(2, 6) for _ in range(k - 1)] + [N + randint(0, 4)]
        top = sorted([randint(1, widths[-1]) for _ in range(L - k)], reverse=True)
        widths += top
        X = torch.randn(N, d, generator=gen, dtype=torch.float64)
        Y = torch.randn(N, widths[-1], generator=gen, dtype=torch.float64)
        Ws = [torch.randn(a, b, generator=gen, dtype=torch.float64) / math.sqrt(a)
              for a, b in zip(widths[:-1], widths[1:], strict=True)]
        bs = [0.5 * torch.randn(b, generator=gen, dtype=torch.float64) for b in widths[1:]]
        gb = gradient_bounds(X, Y, Ws, bs, act, k)
        # independent gradient: autograd of 1/2 ||F_L - Y||^2 w.r.t. U_{k+1}
        W = Ws[k].clone().requires_grad_(True)
        Fs = fc_forward(X, Ws[:k] + [W] + Ws[k + 1:], bs, act)[1]
        g_auto = torch.autograd.grad(0.5 * ((Fs[-1] - Y) ** 2).sum(), W)[0]
        g = float(g_auto.norm())
        rows.append({"instance": i, "activation": act, "N": N, "k": k, "L": L, "widths": str(widths),
                     "lower": gb.lower, "grad_norm": g, "grad_norm_backprop": gb.grad_norm, "upper": gb.upper,
                     "lower_slack": (g - gb.lower) / g, "upper_slack": (gb.upper - g) / g})
    t = pd.DataFrame(rows)
    verdict.add("lower bound <= ||grad|| (min relative slack)", float(t.lower_slack.min()), ">= -slack",
                p.slack, bool((t.lower_slack >= -p.slack).all()), note=f"{len(t)} instances", kind="evidence")
    verdict.add("||grad|| <= upper bound (min relative slack)", float(t.upper_slack.min()), ">= -slack",
                p.slack, bool((t.upper_slack >= -p.slack).all()), kind="evidence")
    rel = float(((t.grad_norm - t.grad_norm_backprop).abs() / t.grad_norm).max())
    verdict.add("backprop recursion (Lemma 2.6.2, with F_k^T Delta_{k+1}) = autograd", rel, 0.0, p.grad_rtol,
                rel <= p.grad_rtol, kind="consistency")
    # erratum: the proof's F_L^T Delta_{k+1} has the wrong shape
    X = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    Ws = [torch.randn(3, 6, generator=gen, dtype=torch.float64), torch.randn(6, 2, generator=gen, dtype=torch.float64)]
    bs = [torch.zeros(6, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)]
    Gs, Fs = fc_forward(X, Ws, bs, "sigmoid")
    deltas = backprop_deltas(Ws, Gs, Fs, torch.zeros(5, 2, dtype=torch.float64), "sigmoid")
    printed = tuple((Fs[-1].T @ deltas[1]).shape)
    verdict.add("erratum: the proof's F_L^T Delta_{k+1} has shape (m, n_{k+1}), not that of U_{k+1}",
                printed, tuple(Ws[1].shape), None, printed != tuple(Ws[1].shape),
                note="the correct expression is F_k^T Delta_{k+1} (CLAIMS NG-L2.4.9 [discrepancy])",
                kind="erratum")
    # NG-T2.4.10: zero loss => zero gradient (at NG-A2 points); random points: gradient >= lower bound > 0
    y = torch.randint(0, 3, (8,), generator=gen)
    y[:3] = torch.arange(3)
    Xz = torch.randn(8, 4, generator=gen, dtype=torch.float64)
    gz = []
    for act in ("sigmoid", "softplus"):
        z = zero_loss_construction(Xz, y, [4, 10, 5, 3], 1, act, seed=p.seed)
        Y = z.targets
        W = z.weights[1].clone().requires_grad_(True)
        Fs = fc_forward(Xz, [z.weights[0], W, z.weights[2]], z.biases, act)[1]
        gz.append(float(torch.autograd.grad(0.5 * ((Fs[-1] - Y) ** 2).sum(), W)[0].norm()))
    verdict.add("NG-T2.4.10: ||grad_{U_{k+1}} Phi|| at NG-A2 zero-loss points", max(gz), 0.0, p.zero_tol,
                max(gz) <= p.zero_tol, kind="evidence")
    positive = bool((t.lower > 0).all())
    verdict.add("NG-T2.4.10: at random points the lower bound (and the gradient) are > 0", positive, True,
                None, positive, kind="evidence")
    fig, (ax,) = figure()
    ax.loglog(t.grad_norm, t.lower, ".", ms=3, label="lower bound")
    ax.loglog(t.grad_norm, t.upper, ".", ms=3, label="upper bound")
    lim = [float(t.grad_norm.min()), float(t.grad_norm.max())]
    ax.plot(lim, lim, "k-", lw=0.8, label="||grad||")
    ax.set(xlabel="||grad_{U_{k+1}} Phi||_F (autograd)", ylabel="bound", title="NG-L2.4.9")
    ax.legend(fontsize=7)
    return Result(t, verdict, {"bounds": fig}, {"zero_loss_grad_norms": gz})
