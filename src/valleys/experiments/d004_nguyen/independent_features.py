"""Document 004 (Nguyen thesis), chapter 2: one wide layer makes the features linearly independent.

``nguyen-independent-features``: NG-T2.4.4 by the construction NG-A1 (FC and conv).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ...expressivity import matrix_feature_rank
from ...literature.nguyen2019 import independent_conv_features, independent_features
from ...nets import get_activation
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2, noisy_digits


# ---------------------------------------------------------- nguyen-independent-features
@dataclass(frozen=True)
class IndependentParams(Params):
    """Parameters of ``nguyen-independent-features``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: digits used (N). The quick preset uses N = 100 > d + 1 = 65, so that full
            rank is not already the rank of the data.
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
    QUICK = {"n_samples": 100}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [2, 1797]", "noise_std": "> 0", "scales": "nonempty, > 0", "beta": "> 0",
        "limit_rtol": "> 0", "exact_tol": "> 0"}


def measure(p: IndependentParams) -> Measurement:
    """Press rank, sigma_min and the construction's certificates of NG-A1 at every scale
    (FC and conv, four activations), the alpha -> infinity limits and the linear control.

    Args:
        p: the parameters.

    Returns:
        One row per (layer kind, activation, scale) of NG-A1 (Press rank, sigma_min, the
        bound below the diagonal, log|det| - N log sigma(beta)) and the linear control's
        row; the summary holds the alpha -> infinity limits and ReLU's exact certificate.
    """
    X, _ = noisy_digits(p.n_samples, p.noise_std, p.seed)
    N, d = X.shape
    channels = math.ceil(N / 36)
    rows, results = [], {}
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
                             "n": fr.n_cols, "min_gap": r.min_gap, "press_rank": fr.rank, "sigma_min": fr.sigma_min,
                             "sigma_max": fr.sigma_max, "lower_max": r.lower_max,
                             "lower_bound": abs(bound),
                             "logdet_minus_N_log_sigma_beta": logdet - N * math.log(abs(s_beta))})
                results[(layer, act, c)] = r
    top = max(p.scales)
    limits, relu_certificates = {}, {}
    for layer in ("fc", "conv"):
        limits[layer] = matrix_feature_rank(results[(layer, "sigmoid", top)].limit("sigmoid")).sigma_min
        S = results[(layer, "relu", top)].square
        relu_certificates[layer] = {"lower_all_zero": bool((torch.tril(S, -1) == 0).all()),
                                    "diag_rel_err": float((S.diagonal() - p.beta).abs().max() / p.beta)}
    # linear control: sigma(t) = t gives rank <= d + 1
    lin = independent_features(X, N, "identity", scale=top, beta=p.beta, seed=p.seed)
    lin_rank = matrix_feature_rank(lin.features).rank
    rows_lin = {"layer": "fc", "activation": "identity", "scale": top, "N": N, "n": N, "press_rank": lin_rank}
    table = pd.concat([pd.DataFrame(rows), pd.DataFrame([rows_lin])], ignore_index=True)
    tanh = table[table.activation == "tanh"]
    return Measurement(table, {"tanh_probe_press_ranks": tanh.press_rank.tolist(), "conv_channels": channels,
                               "relu_softplus_press_ranks":
                                   table[table.activation.isin(["relu", "softplus"])].press_rank.tolist(),
                               "input_dim": d, "sigmoid_limit_sigma_min": limits,
                               "relu_certificate": relu_certificates})


def _covered(table: pd.DataFrame, verdict: Verdict) -> pd.DataFrame:
    """The rows of the construction that meet NG-T2.4.4's hypotheses, recorded on ``verdict``:
    a layer at least as wide as the data (n_k >= N) and Assumption 2.4.1, witnessed by the
    construction's positive projection gap (min_gap > 0 only if no two patches coincide)."""
    built = table[table.activation != "identity"]
    wide = built.n >= built.N
    distinct = built.min_gap > 0
    verdict.hypothesis("n_k >= N (NG-T2.4.4)", f"{int(wide.sum())} of {len(built)} instances", "n >= N",
                       bool(wide.any()), note=f"smallest n - N: {int((built.n - built.N).min())}")
    verdict.hypothesis("Assumption 2.4.1: distinct patches (the construction's projection gap > 0)",
                       f"{int(distinct.sum())} of {len(built)} instances", "min_gap > 0", bool(distinct.any()),
                       note=f"smallest gap {float(built.min_gap.min()):.3g}")
    return built[wide & distinct]


def judge(m: Measurement, p: IndependentParams) -> Verdict:
    """Full Press rank (sigmoid), the alpha -> infinity limits, ReLU's exact certificate (FC and
    conv) on the instances that meet the hypotheses; the bounds below the diagonal and the
    linear control's rank <= d + 1 as consistency.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict (hypotheses n_k >= N and distinct patches per instance).
    """
    table = m.table
    verdict = Verdict()
    N = int(table.N.iloc[0])
    top = max(p.scales)
    covered = _covered(table, verdict)
    for layer in ("fc", "conv"):
        sig = covered[(covered.layer == layer) & (covered.activation == "sigmoid")]
        relu_top = covered[(covered.layer == layer) & (covered.activation == "relu") & (covered.scale == top)]
        if sig.empty or relu_top.empty or not (sig.scale == top).any():
            for name in ("sigmoid Press rank F = N", "sigmoid sigma_min(F) vs the alpha -> inf limit",
                         "sigmoid log|det F| - N log sigma(beta) -> 0", "ReLU exact certificate"):
                verdict.not_covered(f"{layer}: {name}", "NG-T2.4.4",
                                    "no instance of this layer meets n_k >= N and Assumption 2.4.1")
            continue
        full = sig[sig.scale >= 4.0] if (sig.scale >= 4.0).any() else sig
        verdict.add(f"{layer}: sigmoid Press rank F = N at every scale >= 4", full.press_rank.tolist(), N,
                    None, bool((full.press_rank == N).all()), kind="evidence")
        lim = m.summary["sigmoid_limit_sigma_min"][layer]
        got = float(sig[sig.scale == top].sigma_min.iloc[0])
        rel = abs(got - lim) / lim
        verdict.add(f"{layer}: sigmoid sigma_min(F) at the largest scale vs the alpha -> inf limit "
                    "(closed-form 0 / sigma(beta) / 1 pattern)", rel, 0.0, p.limit_rtol, rel <= p.limit_rtol,
                    note=f"sigma_min {got:.4g}, limit {lim:.4g}", kind="evidence")
        ld = float(sig[sig.scale == top].logdet_minus_N_log_sigma_beta.iloc[0])
        verdict.add(f"{layer}: sigmoid log|det F[order, :N]| - N log sigma(beta) -> 0", abs(ld), 0.0,
                    p.limit_rtol, abs(ld) <= p.limit_rtol, kind="evidence")
        bounded = covered[(covered.layer == layer) & (covered.activation != "tanh")]
        ok = bool((bounded.lower_max <= bounded.lower_bound + p.exact_tol).all())
        verdict.add(f"{layer}: entries below the diagonal <= sigma(beta - c) (ReLU, sigmoid, softplus)",
                    float((bounded.lower_max - bounded.lower_bound).max()), "<= 0", p.exact_tol, ok,
                    note="measured: max over scales of (largest entry below the diagonal) - sigma(beta - c)",
                    kind="consistency")
        cert = m.summary["relu_certificate"][layer]
        lower_zero, diag_err = cert["lower_all_zero"], cert["diag_rel_err"]
        relu_press = int(relu_top.press_rank.iloc[0])
        verdict.add(f"{layer}: ReLU exact certificate at c > beta: F[order, :N] upper triangular with "
                    "diagonal beta, so det = beta^N != 0 and rank F = N in exact arithmetic",
                    {"lower_all_zero": lower_zero, "diag_rel_err": diag_err}, "lower zero, diag = beta",
                    p.exact_tol, lower_zero and diag_err <= p.exact_tol,
                    note=f"the float64 Press rank is {relu_press}: "
                         "the construction's large entries above the diagonal make F ill-conditioned",
                    kind="evidence")
    d = m.summary["input_dim"]
    lin_rank = int(table[table.activation == "identity"].press_rank.iloc[0])
    verdict.add("linear control sigma(t) = t: rank F <= d + 1 < N", lin_rank, f"<= {d + 1}", None,
                lin_rank <= d + 1 and (N <= d + 1 or lin_rank < N),
                note="consistency: F = X A + 1 b^T has rank <= d + 1 by algebra, whatever the draw",
                kind="consistency")
    return verdict


def draw(m: Measurement, p: IndependentParams) -> dict:
    """sigma_min(F) against the scale c, by activation (FC and conv).

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"sigma_min_vs_scale": figure}``.
    """
    table = m.table
    N = int(table.N.iloc[0])
    fig, axes = figure(2, width=4.5)
    for ax, layer in zip(axes, ("fc", "conv"), strict=True):
        for act in ("sigmoid", "relu", "softplus", "tanh"):
            sub = table[(table.layer == layer) & (table.activation == act)]
            ax.semilogy(sub.scale, sub.sigma_min.clip(lower=1e-20), "o-", label=act)
        ax.set(xscale="log", xlabel="scale c = alpha min_gap", ylabel="sigma_min(F)", title=f"NG-A1, {layer}, N = {N}")
        ax.legend(fontsize=7)
    return {"sigma_min_vs_scale": fig}


nguyen_independent_features = experiment(
    "nguyen-independent-features", source=SOURCE_004_CH2 + ", Thm 2.4.4 (construction)",
    claim="NG-T2.4.4 / NG-A1: a wide layer (n_k >= N) has parameters with rank F_k = N "
          "(ReLU, sigmoid, softplus; FC and conv); linear control rank <= d + 1",
    params=IndependentParams, judge=judge, draw=draw)(measure)
