"""Document 004 (Nguyen thesis), chapter 2: one wide layer makes the features linearly independent.

``nguyen-feature-rank``: NG-T2.4.5 and the Table 2.2 analogue on digits (Press rank of F_1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...core import Landscape
from ...expressivity import matrix_feature_rank
from ...nets import conv_net, get_activation
from ...record import Measurement
from ...train import fit
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH2, noisy_digits, one_hot

#: Table 2.2 of the thesis (MNIST, N = 60000): T_1 -> (rank F_1, sigma_min F_1, train error, test error).
THESIS_TABLE_2_2 = {10: (6760, 3.7e-6, 8, 151), 20: (13520, 2.2e-6, 1, 132), 30: (20280, 1.5e-6, 0, 174),
                    40: (27040, 2.0e-6, 0, 124), 50: (33800, 1.3e-6, 0, 143), 60: (40560, 1.1e-6, 0, 141),
                    70: (47320, 7.5e-7, 0, 120), 80: (54080, 5.4e-7, 0, 140), 89: (60000, 2.0e-8, 0, 117),
                    100: (60000, 1.1e-6, 0, 139)}

#: The ``source`` of the table's rows measured here: the conv nets and the fully connected draws.
CONV, FC = "ours (digits)", "ours (FC random draws)"


# ------------------------------------------------------------------ nguyen-feature-rank
@dataclass(frozen=True)
class FeatureRankParams(Params):
    """Parameters of ``nguyen-feature-rank``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_samples: digits used (N; 1797 = all).
        noise_std: std of the Gaussian noise added to the pixels (thesis: N(0, 1e-5)).
        channels: T_1 of the 3x3 convolution (n_1 = 36 T_1).
        train_steps: full-batch steps (Nesterov momentum, cross-entropy) of the trained nets.
        lr: their learning rate.
        momentum: their momentum.
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


def measure(p: FeatureRankParams) -> Measurement:
    """Press rank of F_1 of the sigmoid conv net per T_1 (random and trained), the linear solve
    on F_1, the thesis' Table 2.2, and random draws of fully connected F_1.

    Args:
        p: the parameters.

    Returns:
        One row per (T_1, random or trained) conv net (Press rank and singular values of
        F_1, the training error and, when 36 T_1 >= N, the linear solve on F_1), the
        thesis' Table 2.2 rows, and one row per fully connected random draw.
    """
    X, y = noisy_digits(p.n_samples, p.noise_std, p.seed)
    N, Y = X.shape[0], one_hot(y)
    shared = _shared_patches(X)
    rows = []
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
            row = {"source": CONV, "T1": T, "state": state, "n1": F1.shape[1], "N": N, "shared_patches": shared,
                   "rank_F1": r.rank, "expected": expected, "sigma_min": r.sigma_min,
                   "sigma_max": r.sigma_max, "press_threshold": r.threshold,
                   "ce_loss": float(land.loss(theta)),
                   "train_error": int((land.outputs(theta).argmax(1) != y).sum())}
            if F1.shape[1] >= N:  # NG-C2.4.6: a linear solve on F_1 fits any targets
                W = torch.linalg.lstsq(F1, Y, driver="gelsd").solution
                row["solve_train_error"] = int(((F1 @ W).argmax(1) != y).sum())
                row["solve_residual"] = float((F1 @ W - Y).abs().max())
            rows.append(row)
    for T, (rank, smin, tr, te) in THESIS_TABLE_2_2.items():
        rows.append({"source": "thesis (MNIST, N=60000, GPU float32)", "T1": T, "state": "trained",
                     "n1": 676 * T, "N": 60000, "rank_F1": rank, "expected": min(60000, 676 * T),
                     "sigma_min": smin, "train_error": tr, "test_error": te})
    fc_rows = _fc_draws(p)
    rows += fc_rows
    relu = pd.DataFrame(fc_rows)
    relu = relu[relu.activation == "relu"]
    relu_frac = float((relu.rank_F1 == relu.N).mean()) if len(relu) else math.nan
    return Measurement(pd.DataFrame(rows),
                       {"relu_full_rank_fraction": relu_frac, "noise_std": p.noise_std,
                        "comparison": "qualitative: thesis table is MNIST N=60000 float32 on GPU"},
                       extras={"N": N})


def judge(m: Measurement, p: FeatureRankParams) -> Verdict:
    """On the instances that meet NG-T2.4.5's hypotheses (n_1 >= N and Assumption 2.4.1, read
    from the data's patches): Press rank F_1 = N for every conv net, the linear solve fits the
    labels, and every analytic FC draw has Press rank N. Narrower conv layers (the thesis'
    Table 2.2 pattern rank = n_1) are consistency: outside the theorem.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict: hypotheses n_1 >= N and Assumption 2.4.1 per instance; full Press rank,
        the linear solve and the analytic FC draws (evidence); the Table 2.2 pattern below
        the width (consistency).
    """
    table = m.table
    verdict = Verdict()
    ours = table[table.source.isin([CONV, FC])]
    wide = ours.n1 >= ours.N
    distinct = ours.shared_patches == 0
    verdict.hypothesis("n_1 >= N (NG-T2.4.5)", f"{int(wide.sum())} of {len(ours)} instances", "n_1 >= N",
                       bool(wide.any()), note=f"conv widths n_1 = {sorted(set(ours[ours.source == CONV].n1))}")
    verdict.hypothesis("Assumption 2.4.1: no patch value shared by two samples",
                       f"{int(distinct.sum())} of {len(ours)} instances", "0 shared patches", bool(distinct.any()),
                       note=f"most shared patch values {int(ours.shared_patches.max())} (noise_std {p.noise_std:g})")
    covered = ours[wide & distinct]
    conv = covered[covered.source == CONV]
    name = "conv F_1 Press rank = N when 36 T_1 >= N, random and trained"
    if conv.empty:
        verdict.not_covered(name, "N", "no conv layer with n_1 >= N on data with distinct patches")
    else:
        bad = [(int(r.T1), r.state, int(r.rank_F1), int(r.N)) for r in conv.itertuples() if r.rank_F1 != r.N]
        verdict.add(name, f"{len(conv) - len(bad)}/{len(conv)}", "all", None, not bad,
                    note=f"mismatches (T1, state, rank, N): {bad}" if bad else "", kind="evidence")
        solves = [int(e) for e in conv.solve_train_error.dropna()] if "solve_train_error" in conv else []
        if solves:
            verdict.add("linear solve on F_1 when 36 T_1 >= N: training errors", max(solves), 0, None,
                        max(solves) == 0, note="NG-C2.4.6", kind="evidence")
    narrow = ours[(ours.source == CONV) & (ours.n1 < ours.N)]
    if len(narrow):
        off = narrow[narrow.rank_F1 != narrow.expected]
        verdict.add("Table 2.2 pattern outside NG-T2.4.5 (n_1 < N): Press rank F_1 = n_1",
                    f"{len(narrow) - len(off)}/{len(narrow)}", "all", None, off.empty,
                    note="consistency: a generic N x n_1 matrix with n_1 < N has rank n_1; the theorem does not "
                         "speak of these widths", kind="consistency")
    analytic = covered[(covered.source == FC) & (covered.activation != "relu")]
    name = "FC random draws (sigmoid, softplus; n_1 in {N, 2N}) with Press rank N"
    if analytic.empty:
        verdict.not_covered(name, 1.0, "no FC draw on distinct samples with n_1 >= N")
    else:
        frac = float((analytic.rank_F1 == analytic.N).mean())
        verdict.add(name, frac, 1.0, None, frac == 1.0, note=f"{len(analytic)} draws", kind="evidence")
    return verdict


def draw(m: Measurement, p: FeatureRankParams) -> dict:
    """Press rank of F_1 against n_1, random and trained.

    Args:
        m: the measurement.
        p: the parameters.

    Returns:
        ``{"rank_vs_width": figure}``.
    """
    table = m.table
    fig, (ax,) = figure()
    ours = table[table.source.str.startswith("ours")]
    for state, marker in (("random", "o"), ("trained", "x")):
        sub = ours[ours.state == state]
        ax.plot(sub.n1, sub.rank_F1, marker, label=f"rank F_1 ({state})")
    ax.plot(ours.n1, ours.expected, "k--", lw=1, label="min(N, n_1)")
    ax.set(xlabel="n_1 = 36 T_1", ylabel="Press rank of F_1", title=f"digits, N = {m.extras['N']}, sigmoid conv 3x3")
    ax.legend(fontsize=7)
    return {"rank_vs_width": fig}


nguyen_feature_rank = experiment(
    "nguyen-feature-rank", source=SOURCE_004_CH2 + ", Thm 2.4.5 and Table 2.2",
    claim="NG-T2.4.5: with n_1 >= N and analytic sigma, rank F_1 = N for almost every "
          "parameter; Table 2.2 analogue: Press-rank F_1 = min(N, 36 T_1) random and trained",
    params=FeatureRankParams, judge=judge, draw=draw)(measure)


def _fc_draws(p: FeatureRankParams) -> list[dict]:
    gen = check_generator(p.seed + 99)
    rows = []
    for N in p.fc_sizes:
        X, _ = noisy_digits(min(N, 1797), p.noise_std, p.seed + N)
        shared = _shared_patches(X, patch=None)
        for n1 in (N, 2 * N):
            for act_name in ("sigmoid", "softplus", "relu"):
                act = get_activation(act_name)
                W = torch.randn(p.fc_draws, X.shape[1], n1, generator=gen, dtype=torch.float64)
                b = torch.randn(p.fc_draws, 1, n1, generator=gen, dtype=torch.float64)
                F = act(X @ W / math.sqrt(X.shape[1]) + b)
                for Fi in F:
                    r = matrix_feature_rank(Fi)
                    rows.append({"source": FC, "activation": act_name, "N": N, "shared_patches": shared,
                                 "n1": n1, "rank_F1": r.rank, "sigma_min": r.sigma_min,
                                 "expected": N})
    return rows


def _shared_patches(X: torch.Tensor, patch: int | None = 3) -> int:
    """How many distinct patch values occur in two different samples (Assumption 2.4.1 asks
    for none: x_i^p != x_j^q for i != j).

    Args:
        X: (N, 64) digits as rows, read as 8 x 8 images.
        patch: the side of the square patches of the convolution (no padding, stride 1);
            ``None`` takes each whole sample as its one patch (the fully connected case).

    Returns:
        The number of patch values shared by at least two samples.
    """
    if patch is None:
        patches, owner = X.reshape(X.shape[0], -1), torch.arange(X.shape[0])
    else:
        cols = torch.nn.functional.unfold(X.reshape(-1, 1, 8, 8), patch)  # (N, patch^2, P)
        patches = cols.transpose(1, 2).reshape(-1, patch * patch)
        owner = torch.arange(X.shape[0]).repeat_interleave(cols.shape[2])
    _, value = torch.unique(patches, dim=0, return_inverse=True)
    pairs = torch.unique(torch.stack([value, owner], 1), dim=0)  # (value, sample) once each
    return int((torch.bincount(pairs[:, 0]) > 1).sum())
