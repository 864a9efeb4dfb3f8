"""Document 004 (Nguyen's thesis), chapter 5: connectivity of decision regions.

``nguyen-adversarial-path``: Fig. 5.7 analogue on ``rotated_digits``: a width-64 = d
leaky-ReLU net, two blue images joined through an adversarial image of a red one.

What it tests is the figure's observation (this piecewise-linear path S -> A -> T stays
blue), not NG-T5.2.3 itself: the theorem says the blue region is connected, not that this
particular path lies in it. The observation is claimed for nets that meet the theorem's
hypotheses (width n_1 <= d, W_1 of full rank, zero training error), so the verdict is gated
on them per run: ``--set width=200`` (wider than d = 64) is reported as not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...curvature.rank import matrix_rank
from ...data import rotated_digits
from ...expressivity.one_hidden import OneHiddenNets, train_adam
from ...expressivity.regions import classify_path, smallest_fgsm
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH5


# ------------------------------------------------------- adversarial path (Fig. 5.6-5.7)
@dataclass(frozen=True)
class AdversarialParams(Params):
    """Parameters of ``nguyen-adversarial-path`` (thesis Fig. 5.6-5.7, CPU analog).

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_per_class: rotated images per class.
        width: hidden units (64 = d).
        wide_width: the wider net reported alongside (no pass criterion).
        alpha: leaky-ReLU slope.
        steps: full-batch Adam steps (until zero training error).
        lr: Adam learning rate.
        extra_steps: Adam steps after zero error (widens the margins).
        path_points: points per segment (thesis: 10^4 per segment).
        n_paths: source/adversarial/target triples tried (the first is the reported path).
        eps_grid: one-step FGSM sizes tried in order (pixels in [0, 1]).
        tie_tol: tie tolerance.
        rank_tau: full-rank threshold of W_1.
    """

    n_per_class: int = 2000
    width: int = 64
    wide_width: int = 256
    alpha: float = 0.1
    steps: int = 3000
    lr: float = 0.01
    extra_steps: int = 200
    path_points: int = 10_000
    n_paths: int = 10
    eps_grid: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
    tie_tol: float = 1e-9
    rank_tau: float = 1e-8
    QUICK = {"n_per_class": 150, "wide_width": 96, "steps": 400, "extra_steps": 50,
             "path_points": 2000, "n_paths": 3}
    LIMITS: ClassVar[dict[str, str]] = {
        "n_per_class": ">= 2", "width": ">= 1", "wide_width": ">= 1", "alpha": "in [0.01, 0.99]",
        "steps": ">= 1", "lr": "> 0", "extra_steps": ">= 0", "path_points": ">= 2",
        "n_paths": ">= 1", "eps_grid": "nonempty, > 0", "tie_tol": ">= 0", "rank_tau": "in [0, 1]"}


def _paths(data, f, p: AdversarialParams, gen: torch.Generator) -> list[dict]:
    angle = data.meta["angle"]
    red = torch.nonzero(data.y == 0).reshape(-1)
    left = torch.nonzero((data.y == 1) & (angle < 0)).reshape(-1)
    right = torch.nonzero((data.y == 1) & (angle > 0)).reshape(-1)
    out = []
    for _ in range(p.n_paths):
        i = int(left[torch.randint(len(left), (1,), generator=gen)])
        j = int(right[torch.randint(len(right), (1,), generator=gen)])
        r = int(red[torch.randint(len(red), (1,), generator=gen)])
        found = smallest_fgsm(f, data.X[r], 1, p.eps_grid, clip=(0.0, 1.0), tie_tol=p.tie_tol)
        row = {"source": i, "target": j, "red": r, "source_angle": float(angle[i]),
               "target_angle": float(angle[j]), "red_angle": float(angle[r])}
        if found is None:
            out.append(row | {"eps": None, "blue_fraction": float("nan"),
                              "min_blue_prob": float("nan"), "all_blue": False})
            continue
        eps, adv = found
        path = classify_path(f, [data.X[i], adv, data.X[j]], p.path_points, tie_tol=p.tie_tol)
        out.append(row | {"eps": eps, "blue_fraction": path.fraction(1),
                          "min_blue_prob": path.min_prob(1), "all_blue": path.fraction(1) == 1.0,
                          "_path": path, "_adv": adv})
    return out


def measure(p: AdversarialParams) -> Measurement:
    """Train the width-d and the wide net to zero error; classify S -> A -> T for ``n_paths`` triples.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`, one row per net (width d, wide) with its width, W_1 rank,
        training errors and the path classification.
    """
    torch.manual_seed(p.seed)
    data = rotated_digits(p.n_per_class, seed=p.seed)
    X, y = data.X, data.y
    rows, meta, kept = [], {}, {}
    for label, width in (("d", p.width), ("wide", p.wide_width)):
        nets = OneHiddenNets(1, X.shape[1], width, 2, alpha=p.alpha, seed=p.seed + width)
        fitted_at, _ = train_adam(nets, X, y, steps=p.steps, lr=p.lr, extra_steps=p.extra_steps)
        errors = int(nets.errors(X, y)[0])
        f = nets.member(0)
        rank = matrix_rank(f.W1, tau=p.rank_tau, warn=False).count
        paths = _paths(data, f, p, check_generator(p.seed + 1))
        for k, row in enumerate(paths):
            rows.append({"net": label, "width": width, "input_dim": int(X.shape[1]), "path": k,
                         "train_errors": errors, "W1_rank": rank}
                        | {c: v for c, v in row.items() if not c.startswith("_")})
        kept[label] = paths
        all_blue = sum(r["all_blue"] for r in paths)
        meta[label] = {"width": width, "train_errors": errors, "fitted_at_step": fitted_at,
                       "W1_rank": rank, "paths_all_blue": all_blue, "paths": len(paths)}
    table = pd.DataFrame(rows)
    meta["thesis"] = ("Fig. 5.7: every image on S -> A -> T classified blue with high confidence; "
                      "the images near A look red-class")
    meta["input_dim"] = int(X.shape[1])
    return Measurement(table, meta, extras={"kept": kept, "X": X})


def judge(m: Measurement, p: AdversarialParams) -> Verdict:
    """Hypotheses of NG-T5.2.3 under which Fig. 5.7 is claimed (n_1 <= d, W_1 full rank, zero
    training error), read from the table; every point of the first S -> A -> T is blue.

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    verdict = Verdict()
    net = m.table[m.table["net"] == "d"]
    width, d = int(net["width"].iloc[0]), int(net["input_dim"].iloc[0])
    errors, rank = int(net["train_errors"].iloc[0]), int(net["W1_rank"].iloc[0])
    narrow, full, fitted = width <= d, rank == min(width, d), errors == 0
    verdict.hypothesis(f"width n_1 = {width} <= d = {d} (T5.2.3: d >= n_1)", width, f"<= {d}", narrow)
    verdict.hypothesis(f"W_1 full rank (T5.2.3; relative threshold {p.rank_tau:g})", rank, min(width, d), full)
    verdict.hypothesis("zero training errors (Fig. 5.7's net fits its data)", errors, 0, fitted)
    name = f"S -> A -> T: points predicted blue (of {2 * p.path_points})"
    if not (narrow and full and fitted):
        verdict.not_covered(name, 1.0, "the net does not meet T5.2.3's hypotheses, under which Fig. 5.7's "
                                        "observation is claimed")
        return verdict
    first = net.iloc[0]
    eps = None if pd.isna(first["eps"]) else float(first["eps"])
    all_blue = int(net["all_blue"].astype(bool).sum())
    verdict.add(name, float(first["blue_fraction"]), 1.0, 0.0, float(first["blue_fraction"]) == 1.0,
                note=f"Fig. 5.7's observation, not T5.2.3 itself (the theorem makes the blue region connected, "
                     "not this path blue): a forward pass at every path point, which training never saw; "
                     f"eps = {eps}, min blue probability {float(first['min_blue_prob']):.4f}; "
                     f"{all_blue}/{len(net)} triples fully blue", kind="evidence")
    return verdict


def draw(m: Measurement, p: AdversarialParams) -> dict:
    """The first triple's images and the blue probability along S -> A -> T for both nets.

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        Figures by name, ``{"paths": ...}``.
    """
    kept, X, meta = m.extras["kept"], m.extras["X"], m.summary
    fig, axes = figure(5, width=2.6, height=2.8)
    first = kept["d"][0]
    images = [("source S", X[first["source"]]), ("red image", X[first["red"]])]
    if "_adv" in first:
        images.append((f"adversarial A (eps {first['eps']})", first["_adv"]))
    images.append(("target T", X[first["target"]]))
    for ax, (title, img) in zip(axes, images, strict=False):
        ax.imshow(np.asarray(img).reshape(8, 8), cmap="gray", vmin=0, vmax=1)
        ax.set(title=title, xticks=[], yticks=[])
    ax = axes[-1]
    for label, paths in kept.items():
        if "_path" in paths[0]:
            path = paths[0]["_path"]
            ax.plot(path.t, path.probs[:, 1], lw=0.8, label=f"{label} (width {meta[label]['width']})")
    ax.set(xlabel="S -> A -> T", ylabel="P(blue)", ylim=(0, 1.02), title="blue probability")
    ax.legend(fontsize=6)
    return {"path": fig}


nguyen_adversarial_path = experiment(
    "nguyen-adversarial-path", source=SOURCE_004_CH5 + ", Sec. 5.3.5 and Fig. 5.6-5.7",
    claim="NG-5.3.5 (Fig. 5.7's observation, under NG-T5.2.3's hypotheses): a zero-error leaky-ReLU "
          "net of width n_1 <= d with full-rank W_1 classifies every point of S -> A -> T blue (A: "
          "one-step targeted adversarial image of a red digit)",
    params=AdversarialParams, judge=judge, draw=draw)(measure)
