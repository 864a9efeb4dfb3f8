"""Document 004 (Nguyen's thesis), chapter 5: connectivity of decision regions.

``nguyen-regions-trained``: Fig. 5.5 on ``two_class_regions``: n_1 = 2 = d always gives
connected regions, wider hidden layers can fit the disconnected blue class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from ...curvature.rank import matrix_rank
from ...data import two_class_regions
from ...expressivity.one_hidden import OneHiddenNets, train_sgd
from ...expressivity.regions import plot_regions, regions_by_window, window_status
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH5


# ----------------------------------------------------------------- trained (Fig. 5.5)
@dataclass(frozen=True)
class TrainedParams(Params):
    """Parameters of ``nguyen-regions-trained`` (thesis Fig. 5.5).

    Attributes:
        n: training points of ``two_class_regions``. components: blue blobs (2 or 4).
        widths: hidden widths n_1 tried. runs: seeds per width.
        epochs, lr, momentum, batch_size, halve_every: SGD with momentum, step size halved
            every ``halve_every`` epochs (thesis: 1000 epochs, 0.1, halved every 50).
        alpha: leaky-ReLU slope.
        half_width, resolution: window [-half_width, half_width]^2 and grid points per axis.
        scales: window scales for re-checking edge-touching counts.
        tie_tol: tie tolerance. rank_tau: full-rank threshold of W_1.
    """

    n: int = 400
    components: int = 2
    widths: tuple[int, ...] = (2, 3, 4, 6)
    runs: int = 20
    epochs: int = 1000
    lr: float = 0.1
    momentum: float = 0.9
    batch_size: int = 20
    halve_every: int = 50
    alpha: float = 0.1
    half_width: float = 8.0
    resolution: int = 401
    scales: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0)
    tie_tol: float = 1e-9
    rank_tau: float = 1e-8
    QUICK = {"n": 120, "widths": (2, 6), "runs": 4, "epochs": 80, "resolution": 151,
             "halve_every": 25, "batch_size": 30}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 8", "components": "one of 2|4", "widths": "nonempty, >= 1", "runs": ">= 1",
        "epochs": ">= 1", "lr": "> 0", "momentum": "in [0, 1]", "batch_size": ">= 1",
        "halve_every": ">= 1", "alpha": "in [0.01, 0.99]", "half_width": "> 0",
        "resolution": ">= 2", "scales": "nonempty, > 0", "tie_tol": ">= 0", "rank_tau": "in [0, 1]"}


def measure(p: TrainedParams) -> Measurement:
    """Train ``runs`` one-hidden-layer nets per width; the status of each run's decision regions."""
    data = two_class_regions(p.n, seed=p.seed, components=p.components)
    X, y = data.X, data.y
    rows = []
    box = (-p.half_width, p.half_width)
    shown = {}
    for width in progress(p.widths, "hidden widths"):
        nets = OneHiddenNets(p.runs, 2, width, 2, alpha=p.alpha, seed=p.seed * 1000 + width)
        train_sgd(nets, X, y, epochs=p.epochs, lr=p.lr, momentum=p.momentum,
                  batch_size=p.batch_size, halve_every=p.halve_every, seed=p.seed)
        errors = nets.errors(X, y)
        for s in range(p.runs):
            f = nets.member(s)
            wins = regions_by_window(f, box, p.resolution, p.scales[:1], tie_tol=p.tie_tol)
            if any(wins[0].status(j) not in ("connected", "empty") for j in range(2)):
                wins += regions_by_window(f, box, p.resolution, p.scales[1:], tie_tol=p.tie_tol)
            (red, _), (blue, nb) = (window_status(wins, j) for j in range(2))
            rank = matrix_rank(f.W1, tau=p.rank_tau, warn=False).count
            rows.append({"n1": width, "run": s, "train_errors": int(errors[s]),
                         "red_status": red, "blue_status": blue, "blue_components": nb,
                         "red_components": wins[-1].count(0), "W1_rank": rank,
                         "W1_full_rank": rank == min(2, width)})
            key = (width, blue in ("disconnected", "stable"))
            shown.setdefault(key, (wins[0], int(errors[s])))
    table = pd.DataFrame(rows)
    summary = table.groupby("n1").agg(mean_errors=("train_errors", "mean"),
                                      disconnected_blue=("blue_status",
                                                         lambda s: int(s.isin(["disconnected",
                                                                               "stable"]).sum())))
    return Measurement(table,
                       {"per_width": {int(k): v for k, v in summary.to_dict("index").items()},
                        "thesis": "Fig. 5.5: n1 = 2 connected (a linear-like separator); n1 = 3 already "
                                  "disconnected; more units disconnect more easily"},
                       extras={"shown": shown, "data": (X, y)})


def judge(m: Measurement, p: TrainedParams) -> Verdict:
    """n1 = 2 with W_1 of full rank: no disconnected region; some wider run splits blue with fewer errors."""
    table = m.table
    verdict = Verdict()
    narrow = table[table.n1 == 2]
    if len(narrow):
        split = (narrow.red_status.isin(["disconnected", "stable"]) |
                 narrow.blue_status.isin(["disconnected", "stable"]))
        covered = narrow[narrow.W1_full_rank.astype(bool)]  # T5.2.4 needs W_1 of full rank
        bad = covered[split[covered.index]]
        outside = narrow[~narrow.W1_full_rank.astype(bool)]
        verdict.add("n1 = 2, W_1 full rank (T5.2.4's hypothesis): runs with a disconnected region",
                    len(bad), 0, None, len(bad) == 0,
                    note=f"statuses: {covered.blue_status.value_counts().to_dict()} (blue); "
                         f"{len(outside)} run(s) ended with a rank-deficient W_1 (outside the "
                         f"theorem; runs {outside['run'].tolist()}, blue "
                         f"{outside.blue_status.tolist()}, red {outside.red_status.tolist()}, "
                         f"training errors {outside.train_errors.tolist()})",
                    kind="evidence")
        verdict.add("n1 = 2: runs meeting T5.2.4's hypothesis (W_1 full rank)",
                    len(covered), ">= 1", p.rank_tau, len(covered) >= 1, kind="consistency")
    wide = table[table.n1 >= 3]
    if len(wide) and len(narrow):
        mean2 = float(narrow.train_errors.mean())
        split = wide[wide.blue_status.isin(["disconnected", "stable"])]
        better = split[split.train_errors < mean2]
        verdict.add("n1 >= 3: some run has >= 2 blue components and fewer errors than the n1 = 2 "
                    "runs (mean)", len(better), ">= 1", None, len(better) >= 1,
                    note=f"n1 = 2 mean errors {mean2:.2f}; disconnected-blue runs by n1: "
                         f"{split.n1.value_counts().sort_index().to_dict()}", kind="evidence")
    return verdict


def draw(m: Measurement, p: TrainedParams) -> dict:
    """The decision regions of one run per (width, blue split or not)."""
    shown = m.extras["shown"]
    X, y = m.extras["data"]
    fig, axes = figure(min(len(shown), 4), width=4.0)
    for ax, ((width, split), (reg, err)) in zip(axes, sorted(shown.items()), strict=False):
        plot_regions(ax, reg, X, y, title=f"n1 = {width}: {err} errors, blue "
                                          f"{'disconnected' if split else 'connected'}")
    return {"regions": fig}


nguyen_regions_trained = experiment(
    "nguyen-regions-trained", source=SOURCE_004_CH5 + ", Sec. 5.3.4 and Fig. 5.5",
    claim="NG-5.3.4/NG-T5.2.4: one hidden layer of width n_1 = 2 = d gives connected "
          "decision regions in every run; some n_1 >= 3 run has a disconnected blue region "
          "with fewer training errors",
    params=TrainedParams, judge=judge, draw=draw)(measure)
