"""Document 004 (Nguyen thesis), chapter 2: the set S_k has full measure.

``nguyen-sk-measure``: S_k = {theta : F_k, U_{k+2}, ..., U_L full rank} (NG-S_k).

- NG-L2.4.8: with distinct samples, a wide layer n_k >= N, a pyramidal top n_{k+1} >= ... >= n_L
  and analytic sigma, random parameters lie in S_k with probability one. Random Gaussian
  parameters on noisy digits, for fully connected nets (the case of NG-C2.4.12) and nets whose
  wide first layer is a 3 x 3 convolution; the proportion in S_k is judged with an exact
  Clopper–Pearson interval against 1. ReLU (not analytic; open in the thesis) is a probe whose
  fraction is reported; layers narrower than N and non-pyramidal tops are outside.
- NG-T2.4.10 ("<="): at a point of S_k where the gradient in U_{k+1} vanishes, the loss is 0. With
  k = L - 1 the points where grad_{U_L} Phi = F_{L-1}^T (F_L - Y) = 0 are the least-squares
  solutions in U_L (other parameters at their random draw), found exactly; the theorem says their
  loss is 0. Narrower last hidden layers (n_{L-1} < N, outside S_k) are the contrast: zero
  gradient there at positive loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...curvature.rank import matrix_rank
from ...expressivity import matrix_feature_rank
from ...expressivity.features import conv_features, fc_forward
from ...record import Measurement
from ...record.stats import proportion_check
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2, noisy_digits, one_hot

#: Analytic activations of NG-L2.4.8 (sigmoid, softplus); ReLU is the probe.
ANALYTIC = ("sigmoid", "softplus")


# -------------------------------------------------------------------- nguyen-sk-measure
@dataclass(frozen=True)
class SkParams(Params):
    """Parameters of ``nguyen-sk-measure``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: noisy digits (N > d + 1 = 65, so that rank N is not already the data's).
        noise_std: pixel noise (Assumption 2.4.1: distinct samples and patches).
        n_draws: random parameter draws per (architecture, activation).
        activations: sigmoid | softplus (analytic, NG-L2.4.8) and relu (the probe).
        extra: the wide layer has n_k = N + extra (a negative value puts every instance outside).
        min_draws: below this many covered draws the proportion does not decide.
        residual_tol: NG-T2.4.10 passes when max |F_L - Y| <= residual_tol at the zero-gradient
            points in S_k.
        grad_tol: the least-squares points count as critical when ||grad_{U_L} Phi|| <= grad_tol
            (relative to ||F_{L-1}|| ||Y||).
    """

    n_samples: int = 200
    noise_std: float = 1e-3
    n_draws: int = 100
    activations: tuple[str, ...] = ("sigmoid", "softplus", "relu")
    extra: int = 5
    min_draws: int = 20
    residual_tol: float = 1e-8
    grad_tol: float = 1e-10
    QUICK = {"n_samples": 80, "n_draws": 12}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_samples": "in [2, 1797]", "noise_std": ">= 0", "n_draws": ">= 1",
        "activations": "one of sigmoid|softplus|relu|tanh", "extra": ">= -1000", "min_draws": ">= 1",
        "residual_tol": "> 0", "grad_tol": "> 0"}


def _architectures(N: int, extra: int) -> list[tuple[str, str, list[int], int]]:
    """(name, first layer kind, widths, k): the nets of the draws (FC top widths after layer k)."""
    n = N + extra
    T = max(1, math.ceil(n / 36))
    return [("FC [64, n, 40, 20, 10], k = 1", "fc", [64, n, 40, 20, 10], 1),
            ("FC [64, 30, n, 25, 10], k = 2", "fc", [64, 30, n, 25, 10], 2),
            ("FC [64, n, 10], k = L - 1", "fc", [64, n, 10], 1),
            ("FC [64, 30, n, 10], k = L - 1", "fc", [64, 30, n, 10], 2),
            ("FC [64, n, 10, 20, 10], top not pyramidal", "fc", [64, n, 10, 20, 10], 1),
            (f"conv 3x3 T = {T} (n_1 = {36 * T}), then FC [40, 10], k = 1", "conv", [64, 36 * T, 40, 10], 1),
            ("FC [64, N - 10, 10], k = L - 1 (narrow contrast)", "fc", [64, N - 10, 10], 1)]


def measure(p: SkParams) -> Measurement:
    """S_k membership of random parameters, and the zero-gradient points in U_L when k = L - 1.

    Args:
        p: the parameters.

    Returns:
        One row per (architecture, activation, draw): N, n_k, whether the top is pyramidal,
        the Press rank of F_k and its sigma_min, whether every U_{k+2..L} has full rank, S_k
        membership and, where k = L - 1, the loss residual max |F_L - Y| and the relative
        gradient norm at the least-squares U_L.
    """
    X, y = noisy_digits(p.n_samples, p.noise_std, p.seed)
    Y = one_hot(y)
    N = X.shape[0]
    gen = check_generator(p.seed + 7)
    rows = []
    for name, first, widths, k in progress(_architectures(N, p.extra), "architectures"):
        L = len(widths) - 1
        for act in p.activations:
            for r in range(p.n_draws):
                Ws = [torch.randn(a, b, generator=gen, dtype=torch.float64) / math.sqrt(a)
                      for a, b in zip(widths[:-1], widths[1:], strict=True)]
                bs = [0.5 * torch.randn(b, generator=gen, dtype=torch.float64) for b in widths[1:]]
                if first == "conv":
                    T = widths[1] // 36
                    filt = torch.randn(T, 9, generator=gen, dtype=torch.float64) / 3.0
                    F1 = conv_features(X, filt, bs[0], (1, 8, 8), 3, act)
                    Fs = [X] + fc_forward(F1, Ws[1:], bs[1:], act)[1]  # [F_0, F_1, ..., F_L]
                else:
                    Fs = fc_forward(X, Ws, bs, act)[1]
                Fk = Fs[k]
                fr = matrix_feature_rank(Fk)
                u_full = all(matrix_rank(Ws[l], policy="press", warn=False).rank == min(Ws[l].shape)
                             for l in range(k + 1, L))
                row = {"architecture": name, "first": first, "activation": act, "draw": r, "N": N,
                       "n_k": widths[k], "k": k, "L": L, "noise_std": p.noise_std,
                       "pyramidal": all(a >= b for a, b in zip(widths[k + 1:-1], widths[k + 2:], strict=True)),
                       "rank_Fk": fr.rank, "sigma_min_Fk": fr.sigma_min, "U_full": u_full,
                       "in_S_k": fr.rank == N and u_full}
                if k == L - 1:  # the zero-gradient points of U_L: least squares on F_{L-1}
                    target = Y - bs[-1]
                    UL = torch.linalg.lstsq(Fk, target, driver="gelsd").solution
                    resid = Fk @ UL - target
                    grad = Fk.T @ resid
                    row.update(residual=float(resid.abs().max()),
                               grad_rel=float(grad.norm() / (Fk.norm() * Y.norm())))
                rows.append(row)
    return Measurement(pd.DataFrame(rows), {"N": N})


def judge(m: Measurement, p: SkParams) -> Verdict:
    """NG-L2.4.8 (fully connected and convolutional first layer) and NG-T2.4.10's "<=" on the covered draws.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: the proportion of draws in S_k against 1 (evidence, exact interval) per
        first-layer kind, and zero loss at the zero-gradient points in S_k (evidence).
    """
    verdict = Verdict()
    t = m.table
    wide = t.n_k >= t.N
    pyramidal = t.pyramidal.astype(bool)
    analytic = t.activation.isin(ANALYTIC)
    distinct = t.noise_std > 0
    verdict.hypothesis("Assumption 2.4.7: wide layer n_k >= N", f"{int(wide.sum())} of {len(t)} draws", "n_k >= N",
                       bool(wide.any()))
    verdict.hypothesis("Assumption 2.4.7: pyramidal top n_{k+1} >= ... >= n_L", f"{int(pyramidal.sum())} of {len(t)}",
                       "pyramidal", bool(pyramidal.any()))
    verdict.hypothesis("sigma real analytic (sigmoid, softplus)", f"{int(analytic.sum())} of {len(t)}",
                       "analytic", bool(analytic.any()))
    verdict.hypothesis("Assumption 2.4.1: distinct samples (pixel noise > 0)", f"{int(distinct.sum())} of {len(t)}",
                       "noise_std > 0", bool(distinct.any()))
    covered = t[wide & pyramidal & analytic & distinct]
    relu = t[wide & pyramidal & distinct & (t.activation == "relu")]
    relu_note = (f"; ReLU probe (not analytic, open in the thesis): {int(relu.in_S_k.sum())}/{len(relu)} in S_k"
                 if len(relu) else "")
    for first, label in (("fc", "fully connected (NG-C2.4.12)"), ("conv", "first layer convolutional")):
        name = f"NG-L2.4.8 ({label}): random parameters lie in S_k"
        sub = covered[covered.first == first]
        if sub.empty:
            verdict.not_covered(name, 1.0, "no draw meets the hypotheses")
            continue
        proportion_check(verdict, name, int(sub.in_S_k.sum()), len(sub), at_least=1.0, min_draws=p.min_draws,
                         note=f"{sub.architecture.nunique()} architectures; smallest sigma_min(F_k) "
                              f"{float(sub.sigma_min_Fk.min()):.3g}"
                              + (relu_note if first == "fc" else ""))
    last = covered[(covered.k == covered.L - 1) & covered.in_S_k.astype(bool)] if "residual" in t else covered[:0]
    name = "NG-T2.4.10: zero gradient in U_{k+1} (k = L - 1, least squares) on S_k => zero loss"
    if last.empty:
        verdict.not_covered(name, 0.0, "no draw with k = L - 1 in S_k")
    else:
        worst = float(last.residual.max())
        narrow = t[(t.k == t.L - 1) & (t.n_k < t.N)] if "residual" in t else t[:0]
        verdict.add(name, worst, 0.0, p.residual_tol, worst <= p.residual_tol,
                    note=f"{len(last)} draws; largest relative gradient there {float(last.grad_rel.max()):.3g}"
                         + (f"; contrast n_{{L-1}} < N (outside S_k): zero gradient at residual >= "
                            f"{float(narrow.residual.min()):.3g}" if len(narrow) else ""), kind="evidence")
        crit = float(last.grad_rel.max())
        verdict.add("the least-squares U_L are critical in U_L (||grad_{U_L} Phi|| relative)", crit, 0.0, p.grad_tol,
                    crit <= p.grad_tol, note="consistency: normal equations", kind="consistency")
    return verdict


def draw(m: Measurement, p: SkParams) -> dict:
    """sigma_min(F_k) per architecture and activation.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"sigma_min": figure}``.
    """
    t = m.table
    fig, (ax,) = figure(width=6.0)
    labels = list(dict.fromkeys(t.architecture))
    for j, act in enumerate(dict.fromkeys(t.activation)):
        for i, arch in enumerate(labels):
            sub = t[(t.architecture == arch) & (t.activation == act)]
            ax.semilogy([i + 0.2 * j] * len(sub), sub.sigma_min_Fk.clip(lower=1e-300), ".",
                        color=f"C{j}", label=act if i == 0 else None)
    ax.set_xticks(range(len(labels)), [f"#{i + 1}" for i in range(len(labels))])
    ax.set(xlabel="architecture", ylabel="sigma_min(F_k)", title=f"random draws, N = {m.summary['N']}")
    ax.legend(fontsize=7)
    return {"sigma_min": fig}


nguyen_sk_measure = experiment(
    "nguyen-sk-measure", source=SOURCE_004_CH2 + ", Lemma 2.4.8, Thm 2.4.10 and Cor. 2.4.12",
    claim="NG-L2.4.8 / NG-T2.4.10: random parameters of nets with a wide layer and a pyramidal top lie in "
          "S_k (F_k, U_{k+2..L} full rank); on S_k a zero gradient in U_{k+1} means zero loss",
    params=SkParams, judge=judge, draw=draw)(measure)
