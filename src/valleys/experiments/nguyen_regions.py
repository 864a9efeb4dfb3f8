"""Document 004 (Nguyen's thesis), chapter 5: connectivity of decision regions.

- ``nguyen-regions-analytic``: the examples of Sec. 5.3 (5.3.1 with the union form of
  C_1, 5.3.2 with a rank-deficient W_1, 5.3.3 with ReLU, the derived n_1 = d + 1 example)
  have disconnected regions; random full-rank pyramidal leaky-ReLU and one-hidden-layer
  sigmoid nets have connected ones (NG-T5.2.3, NG-T5.2.4).
- ``nguyen-regions-trained``: Fig. 5.5 on ``two_class_regions``: n_1 = 2 = d always gives
  connected regions, wider hidden layers can fit the disconnected blue class.
- ``nguyen-adversarial-path``: Fig. 5.7 analogue on ``rotated_digits``: a width-64 = d
  leaky-ReLU net, two blue images joined through an adversarial image of a red one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from .._validation import check_generator
from ..curvature.rank import matrix_rank
from ..data import rotated_digits, two_class_regions
from ..expressivity.one_hidden import OneHiddenNets, train_adam, train_sgd
from ..expressivity.regions import (
    TIE,
    classify_path,
    decision_regions,
    grid,
    plot_regions,
    refined_status,
    regions_by_window,
    smallest_fgsm,
    window_status,
)
from ..nets import get_activation
from .common import figure, progress
from .params import Params
from .registry import experiment
from .result import Result, Verdict

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 5"


def _leaky(alpha: float):
    return lambda t: torch.maximum(t, alpha * t)


# ------------------------------------------------------------------ the thesis' examples
def example_531(X: torch.Tensor) -> torch.Tensor:
    """Sec. 5.3.1: leaky-ReLU(0.5), widths 2-1-2-2 (f = W^T h + b convention)."""
    s = _leaky(0.5)
    h = s(X.sum(1))
    y1, y2 = s(h), s(-h)
    return torch.stack([2 * y1 + 3 * y2, y1 + 2 * y2 + 1], 1)


def region_531_union(X: torch.Tensor) -> torch.Tensor:
    """C_1 of 5.3.1 as derived: {x1 + x2 > 2} U {x1 + x2 < -4}."""
    s = X.sum(1)
    return (s > 2) | (s < -4)


def region_531_seed(X: torch.Tensor) -> torch.Tensor:
    """C_1 of 5.3.1 as printed in the seed: {x1 + x2 - 2 > 0 and x1 + x2 + 4 < 0} (empty)."""
    s = X.sum(1)
    return (s - 2 > 0) & (s + 4 < 0)


def example_532(alpha: float, *, extra_unit: bool = False):
    """Sec. 5.3.2 (rank-deficient W_1, data 5.4), unit 0 = blue, unit 1 = red; with
    ``extra_unit`` the derived n_1 = d + 1 = 3 example whose W_1 has full rank 2."""
    s = _leaky(alpha)

    def f(X: torch.Tensor) -> torch.Tensor:
        h1, h2 = s(X[:, 0] - 1), s(-X[:, 0] - 1)
        blue = h1 + h2 + (0.0 * s(X[:, 1]) if extra_unit else 0.0)
        return torch.stack([blue, torch.full_like(blue, -2 * alpha)], 1)

    f.W1 = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]] if extra_unit
                        else [[1.0, -1.0], [0.0, 0.0]], dtype=torch.float64)
    return f


def region_532(X: torch.Tensor) -> torch.Tensor:
    """The blue region of 5.3.2: {|x1| > 1}."""
    return X[:, 0].abs() > 1


def example_533(X: torch.Tensor) -> torch.Tensor:
    """Sec. 5.3.3: ReLU, widths 2-2-2-2, pyramidal with full-rank weights."""
    r2 = math.sqrt(2.0)
    h1 = torch.relu(X)
    W2T = (r2 / 2) * torch.tensor([[1.0, 1.0], [-1.0, 1.0]], dtype=X.dtype)
    b2 = torch.tensor([r2 - 1.0, -3.0], dtype=X.dtype) / r2
    h2 = torch.relu(h1 @ W2T.T + b2)
    return torch.stack([-h2[:, 0] + 1.0, -3.0 * h2[:, 1]], 1)


def region_533(X: torch.Tensor) -> torch.Tensor:
    """C_1 of 5.3.3: {x1 < 1, x2 < 1, x1 + x2 < 1} U {x2 > 4, 2 x1 - x2 + 4 < 0}."""
    x1, x2 = X[:, 0], X[:, 1]
    return ((x1 < 1) & (x2 < 1) & (x1 + x2 < 1)) | ((x2 > 4) & (2 * x1 - x2 + 4 < 0))


def random_pyramidal(widths: list[int], activation: str, gen: torch.Generator, alpha: float):
    """A random net with Gaussian weights and biases, f = W^T h + b per layer; returns the
    function and its weight matrices (the biases are ``f.biases``, the activation ``f.act``)."""
    act = get_activation(activation, alpha=alpha) if activation == "leaky_relu" \
        else get_activation(activation)
    Ws = [torch.randn(a, b, generator=gen, dtype=torch.float64) for a, b in zip(widths[:-1], widths[1:],
                                                                               strict=True)]
    bs = [torch.randn(b, generator=gen, dtype=torch.float64) for b in widths[1:]]

    def f(X: torch.Tensor) -> torch.Tensor:
        h = X
        for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            h = h @ W + b
            if i < len(Ws) - 1:
                h = act(h)
        return h

    f.biases, f.act, f.alpha, f.activation = bs, act, alpha, activation
    return f, Ws


PATH_SAMPLES = 2001
"""Points at which an inverse-mapped connecting path is checked by a forward pass."""


def _inverse_act(h: torch.Tensor, activation: str, alpha: float) -> torch.Tensor:
    if activation == "leaky_relu":
        return torch.where(h >= 0, h, h / alpha)
    return torch.logit(h)  # sigmoid


def inverse_path(f, Ws, x_a: torch.Tensor, x_b: torch.Tensor, samples: int = PATH_SAMPLES) -> torch.Tensor:
    """Inputs x(t) whose last hidden layer moves on the straight segment between those of x_a
    and x_b: each hidden layer of a 2-2-...-2-m net with invertible W and a bijective
    activation is a bijection of R^2, so the segment maps back to a path in input space.
    The scores are affine in the last hidden layer, so a class that wins at both ends wins
    along the whole segment (NG-T5.2.3's argument); the caller checks it by a forward pass."""
    hidden = len(Ws) - 1

    def last_hidden(x):
        h = x
        for W, b in zip(Ws[:hidden], f.biases[:hidden], strict=True):
            h = f.act(h @ W + b)
        return h

    t = torch.linspace(0, 1, samples, dtype=torch.float64)[:, None]
    ha, hb = last_hidden(x_a[None]), last_hidden(x_b[None])
    h = (1 - t) * ha + t * hb
    for W, b in zip(reversed(Ws[:hidden]), reversed(f.biases[:hidden]), strict=True):
        h = torch.linalg.solve(W.T, (_inverse_act(h, f.activation, f.alpha) - b).T).T
    return h


def joined_by_paths(f, Ws, reg, tie_tol: float) -> tuple[bool, float]:
    """Whether every split class of ``reg`` has all its grid components joined to its largest
    by an inverse-mapped path on which a forward pass keeps the class (strict margin >
    tie_tol at every one of PATH_SAMPLES points); also the smallest margin seen."""
    smallest = math.inf
    for j in range(reg.n_classes):
        comp = reg.component_maps[j]
        if reg.count(j) < 2:
            continue
        reps = []
        for c in range(1, reg.count(j) + 1):
            iy, ix = np.nonzero(comp == c)
            k = int(np.argmax(reg.margins[iy, ix]))  # the component's most confident pixel
            reps.append(torch.tensor([reg.xs[ix[k]], reg.ys[iy[k]]], dtype=torch.float64))
        for rep in reps[1:]:
            path = inverse_path(f, Ws, reps[0], rep)
            scores = f(path)
            top = scores.topk(2, dim=1).values
            margin = float((top[:, 0] - top[:, 1]).min())
            ok = bool((scores.argmax(1) == j).all()) and margin > tie_tol
            smallest = min(smallest, margin)
            if not ok:
                return False, smallest
    return True, smallest


@dataclass(frozen=True)
class AnalyticParams(Params):
    """Parameters of ``nguyen-regions-analytic``.

    Attributes:
        half_width: the window is [-half_width, half_width]^2.
        resolution: grid points per axis.
        scales: window scales over which edge-touching counts are re-checked.
        alpha: leaky-ReLU slope of example 5.3.2 and its n_1 = 3 variant.
        tie_tol: margins <= tie_tol are ties (CLAIMS.md: 1e-9).
        n_nets: random nets per family (leaky-ReLU pyramidal, sigmoid one hidden layer).
            The full preset runs 200 nets per family on a 1000 x 1000 grid (about 4 minutes
            on one core); CLAIMS.md's size, 1000 nets on 2000 x 2000, takes about 3 hours
            here: ``--set n_nets=1000 net_resolution=2000``.
        net_alpha: leaky-ReLU slope of the random nets.
        net_half_width: window of the random nets (CLAIMS.md: R = 50).
        net_resolution: grid points per axis for the random nets (CLAIMS.md: 2000; see n_nets).
        max_hidden: random pyramidal nets have 1..max_hidden hidden layers of width 2.
        rank_tau: relative singular-value threshold of the full-rank check of W_1.
    """

    half_width: float = 10.0
    resolution: int = 801
    scales: tuple[float, ...] = (1.0, 2.0, 4.0)
    alpha: float = 0.1
    tie_tol: float = 1e-9
    n_nets: int = 200
    net_alpha: float = 0.1
    net_half_width: float = 50.0
    net_resolution: int = 1000
    max_hidden: int = 3
    rank_tau: float = 1e-8
    QUICK = {"resolution": 301, "n_nets": 20, "net_resolution": 301}
    LIMITS: ClassVar[dict[str, str]] = {
        "half_width": "> 0", "resolution": ">= 2", "scales": "nonempty, > 0", "alpha": "in [0.01, 0.99]",
        "tie_tol": ">= 0", "n_nets": ">= 1", "net_alpha": "in [0.01, 0.99]", "net_half_width": "> 0",
        "net_resolution": ">= 2", "max_hidden": ">= 1", "rank_tau": "in [0, 1]"}


def _mismatches(model, truth, box, resolution, tie_tol) -> tuple[int, int]:
    """Grid points (away from ties) where the net's class-0 region and ``truth`` disagree,
    and the number of tie points."""
    regions = decision_regions(model, box, resolution, tie_tol=tie_tol)
    _, _, pts = grid(box, resolution)
    lab = regions.labels.reshape(-1)
    ok = lab != TIE
    expected = truth(pts).numpy()
    return int(((lab == 0) != expected)[ok].sum()), int((~ok).sum())


@experiment("nguyen-regions-analytic", source=SOURCE_004 + ", Sec. 5.2-5.3 (examples and theorems)",
            claim="NG-5.3.1/5.3.2/5.3.3: the thesis' examples have a 2-component region (5.3.1 in "
                  "the union form); NG-T5.2.3/T5.2.4: random full-rank pyramidal nets give "
                  "connected regions",
            params=AnalyticParams)
def nguyen_regions_analytic(p: AnalyticParams) -> Result:
    verdict, rows, figs = Verdict(), [], {}
    box = (-p.half_width, p.half_width)
    examples = [
        ("5.3.1 leaky(0.5) 2-1-2-2", example_531, 0, region_531_union, 2),
        ("5.3.2 rank-deficient W1", example_532(p.alpha), 0, region_532, 2),
        ("derived n1 = d+1 = 3", example_532(p.alpha, extra_unit=True), 0, region_532, 2),
        ("5.3.3 relu 2-2-2-2", example_533, 0, region_533, 2),
    ]
    fig, axes = figure(len(examples), width=4.0)
    for (name, f, cls, truth, expected), ax in zip(examples, axes, strict=True):
        wins = regions_by_window(f, box, p.resolution, p.scales, tie_tol=p.tie_tol)
        status, count = window_status(wins, cls)
        bad, ties = _mismatches(f, truth, box, p.resolution, p.tie_tol)
        verdict.add(f"{name}: grid labels vs the closed-form region (mismatches)", bad, 0, p.tie_tol,
                    bad == 0, note=f"{ties} tie points excluded", kind="evidence")
        counts = [w.count(cls) for w in wins]
        verdict.add(f"{name}: components of the class-{cls} region over windows x{list(p.scales)}",
                    counts, expected, None, all(c == expected for c in counts) and status != "connected",
                    note=f"status {status}: every component touches the edge in every window"
                    if status == "stable" else f"status {status}", kind="evidence")
        rows += [{"example": name, "scale": s, "class": j, "components": w.count(j),
                  "status": w.status(j), "tie_fraction": w.tie_fraction}
                 for s, w in zip(p.scales, wins, strict=True) for j in range(w.n_classes)]
        plot_regions(ax, wins[0], title=f"{name}\n{counts[0]} components ({status})")
    figs["examples"] = fig

    # the seed's "and" form of 5.3.1 is empty; the net's region is not
    _, _, pts = grid(box, p.resolution)
    seed_pixels = int(region_531_seed(pts).sum())
    union_pixels = int(region_531_union(pts).sum())
    verdict.add("5.3.1: seed's C_1 = {x1+x2 > 2 and x1+x2 < -4} is empty, the net's C_1 is not",
                {"seed_form_pixels": seed_pixels, "union_form_pixels": union_pixels},
                "seed form empty; union form = net region", None,
                seed_pixels == 0 and union_pixels > 0, kind="erratum",
                note="CLAIMS.md NG-5.3.1: the correct set is the union")
    w1 = example_532(p.alpha, extra_unit=True).W1
    r = matrix_rank(w1, tau=p.rank_tau, warn=False).count
    verdict.add("derived n1 = 3 example: W_1 (2x3) has full rank 2", r, 2, p.rank_tau, r == 2,
                kind="consistency")
    ties532 = wins_tie = decision_regions(example_532(p.alpha), box, p.resolution,
                                          tie_tol=p.tie_tol)
    red = ties532.count(1)
    verdict.add("5.3.2: the red region is empty (the strip |x1| <= 1 is all ties)",
                {"red_components": red, "tie_fraction": round(wins_tie.tie_fraction, 4)},
                {"red_components": 0, "tie_fraction": round(1 / p.half_width, 4)}, 0.01,
                red == 0 and abs(wins_tie.tie_fraction - 1 / p.half_width) < 0.01,
                note="f_blue = f_red = -2 alpha on the strip: ties are handled explicitly",
                kind="evidence")

    # random full-rank pyramidal nets (T5.2.3) and one-hidden-layer sigmoid nets (T5.2.4)
    gen = check_generator(p.seed)
    net_box = (-p.net_half_width, p.net_half_width)
    tally = {}
    for family in ("leaky_relu", "sigmoid"):
        counts = {"connected": 0, "disconnected": 0, "inconclusive": 0}
        low_rank = 0
        for k in progress(range(p.n_nets), f"random {family} nets"):
            hidden = 1 if family == "sigmoid" else 1 + k % p.max_hidden
            m = 2 + k % 2
            f, Ws = random_pyramidal([2] * (hidden + 1) + [m], family, gen, p.net_alpha)
            low_rank += any(matrix_rank(W, tau=p.rank_tau, warn=False).count < 2 for W in Ws[:-1])
            reg = decision_regions(f, net_box, p.net_resolution, tie_tol=p.tie_tol)
            statuses = [reg.status(j) for j in range(m)]
            if any(st not in ("connected", "empty") for st in statuses):
                statuses = refined_status(f, net_box, p.net_resolution, coarse=reg,
                                          tie_tol=p.tie_tol)
            worst = next((w for w in ("disconnected", "inconclusive") if w in statuses),
                         "connected")
            joined, path_margin = (None, math.nan)
            if worst != "connected":
                # a grid split may be a region thinner than a pixel: try to join the pieces
                joined, path_margin = joined_by_paths(f, Ws, reg, p.tie_tol)
                if joined:
                    worst = "connected (joined by path)"
            counts[worst] = counts.get(worst, 0) + 1
            rows.append({"example": f"random {family}", "net": k, "hidden_layers": hidden,
                         "classes": m, "status": worst, "grid_status": next(
                             (w for w in ("disconnected", "inconclusive") if w in statuses), "connected"),
                         "path_min_margin": path_margin,
                         "components": [reg.count(j) for j in range(m)]})
        tally[family] = counts
        split = counts.get("disconnected", 0) + counts.get("inconclusive", 0)
        verdict.add(f"random {family} pyramidal nets with a region split on the grid that no "
                    "verified path joins", split, 0, None, split == 0,
                    note=f"{counts} over {p.n_nets} nets. A grid split (an interior component on "
                         "the grid and on the 2x finer grid, or components touching the edge) is "
                         "tested by joining each piece to the largest with a path whose last hidden "
                         "layer moves on a straight segment (mapped back through the layers' "
                         f"inverses) and a forward pass at {PATH_SAMPLES} points keeping the class "
                         "with margin > tie_tol; 'connected (joined by path)' = a split the grid "
                         "could not resolve (a region thinner than a pixel). A disconnected region "
                         "admits no such path.",
                    kind="evidence")
        verdict.add(f"random {family} nets: hidden weight matrices full rank", p.n_nets - low_rank,
                    p.n_nets, p.rank_tau, low_rank == 0, kind="consistency")
    table = pd.DataFrame(rows)
    table["components"] = table["components"].astype(str)
    return Result(table, verdict, figs, {"random_nets": tally})


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


@experiment("nguyen-regions-trained", source=SOURCE_004 + ", Sec. 5.3.4 and Fig. 5.5",
            claim="NG-5.3.4/NG-T5.2.4: one hidden layer of width n_1 = 2 = d gives connected "
                  "decision regions in every run; some n_1 >= 3 run has a disconnected blue region "
                  "with fewer training errors",
            params=TrainedParams)
def nguyen_regions_trained(p: TrainedParams) -> Result:
    data = two_class_regions(p.n, seed=p.seed, components=p.components)
    X, y = data.X, data.y
    verdict, rows = Verdict(), []
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
    fig, axes = figure(min(len(shown), 4), width=4.0)
    for ax, ((width, split), (reg, err)) in zip(axes, sorted(shown.items()), strict=False):
        plot_regions(ax, reg, X, y, title=f"n1 = {width}: {err} errors, blue "
                                          f"{'disconnected' if split else 'connected'}")
    summary = table.groupby("n1").agg(mean_errors=("train_errors", "mean"),
                                      disconnected_blue=("blue_status",
                                                         lambda s: int(s.isin(["disconnected",
                                                                               "stable"]).sum())))
    return Result(table, verdict, {"regions": fig},
                  {"per_width": {int(k): v for k, v in summary.to_dict("index").items()},
                   "thesis": "Fig. 5.5: n1 = 2 connected (a linear-like separator); n1 = 3 already "
                             "disconnected; more units disconnect more easily"})


# ------------------------------------------------------- adversarial path (Fig. 5.6-5.7)
@dataclass(frozen=True)
class AdversarialParams(Params):
    """Parameters of ``nguyen-adversarial-path`` (thesis Fig. 5.6-5.7, CPU analog).

    Attributes:
        n_per_class: rotated images per class. width: hidden units (64 = d).
        wide_width: the wider net reported alongside (no pass criterion).
        alpha: leaky-ReLU slope. steps, lr: full-batch Adam until zero training error.
        extra_steps: Adam steps after zero error (widens the margins).
        path_points: points per segment (thesis: 10^4 per segment).
        n_paths: source/adversarial/target triples tried (the first is the reported path).
        eps_grid: one-step FGSM sizes tried in order (pixels in [0, 1]).
        tie_tol: tie tolerance. rank_tau: full-rank threshold of W_1.
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


@experiment("nguyen-adversarial-path", source=SOURCE_004 + ", Sec. 5.3.5 and Fig. 5.6-5.7",
            claim="NG-5.3.5/NG-T5.2.3: a zero-error leaky-ReLU net of width d with full-rank W_1 "
                  "classifies every point of S -> A -> T blue (A: one-step targeted adversarial "
                  "image of a red digit)",
            params=AdversarialParams)
def nguyen_adversarial_path(p: AdversarialParams) -> Result:
    torch.manual_seed(p.seed)
    data = rotated_digits(p.n_per_class, seed=p.seed)
    X, y = data.X, data.y
    verdict, rows, meta, kept = Verdict(), [], {}, {}
    for label, width in (("d", p.width), ("wide", p.wide_width)):
        nets = OneHiddenNets(1, X.shape[1], width, 2, alpha=p.alpha, seed=p.seed + width)
        fitted_at, _ = train_adam(nets, X, y, steps=p.steps, lr=p.lr, extra_steps=p.extra_steps)
        errors = int(nets.errors(X, y)[0])
        f = nets.member(0)
        rank = matrix_rank(f.W1, tau=p.rank_tau, warn=False).count
        paths = _paths(data, f, p, check_generator(p.seed + 1))
        for k, row in enumerate(paths):
            rows.append({"net": label, "width": width, "path": k, "train_errors": errors,
                         "W1_rank": rank} | {c: v for c, v in row.items() if not c.startswith("_")})
        kept[label] = paths
        all_blue = sum(r["all_blue"] for r in paths)
        meta[label] = {"width": width, "train_errors": errors, "fitted_at_step": fitted_at,
                       "W1_rank": rank, "paths_all_blue": all_blue, "paths": len(paths)}
        if label != "d":
            continue
        verdict.add(f"width {width} = d: training errors", errors, 0, None, errors == 0,
                    kind="consistency")
        verdict.add(f"width {width}: W_1 full rank (T5.2.3 hypothesis)", rank, min(width, X.shape[1]),
                    p.rank_tau, rank == min(width, X.shape[1]), kind="consistency")
        first = paths[0]
        verdict.add(f"S -> A -> T: points predicted blue (of {2 * p.path_points})",
                    first["blue_fraction"], 1.0, 0.0, first["all_blue"],
                    note=f"eps = {first['eps']}, min blue probability {first['min_blue_prob']:.4f}; "
                         f"{all_blue}/{len(paths)} triples fully blue", kind="evidence")
    table = pd.DataFrame(rows)
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
    meta["thesis"] = ("Fig. 5.7: every image on S -> A -> T classified blue with high confidence; "
                      "the images near A look red-class")
    return Result(table, verdict, {"path": fig}, meta)
