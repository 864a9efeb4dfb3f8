"""Document 004 (Nguyen's thesis), chapter 5: connectivity of decision regions.

``nguyen-regions-analytic``: the examples of Sec. 5.3 (5.3.1 with the union form of
C_1, 5.3.2 with a rank-deficient W_1, 5.3.3 with ReLU, the derived n_1 = d + 1 example)
have disconnected regions; random full-rank pyramidal leaky-ReLU and one-hidden-layer
sigmoid nets have connected ones (NG-T5.2.3, NG-T5.2.4); a random full-rank leaky-ReLU layer
pulls a disk back to a connected set, and L5.2.2's cubic counterexample (m < n) does not
(NG-L5.2.2).

Each random net's row records the theorems' hypotheses (hidden weight matrices of full
rank, widths d >= n_1 >= ..., one hidden layer for sigmoid); the judge counts only the nets
that meet them and reports the family as not covered when none does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...curvature.rank import matrix_rank
from ...expressivity.regions import (
    TIE,
    combine_windows,
    count_components,
    decision_regions,
    grid,
    plot_regions,
    refined_status,
    regions_by_window,
    window_status,
)
from ...nets import get_activation
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_004_CH5


def _leaky(alpha: float):
    return lambda t: torch.maximum(t, alpha * t)


# ------------------------------------------------------------------ the thesis' examples
def example_531(X: torch.Tensor) -> torch.Tensor:
    """Sec. 5.3.1: leaky-ReLU(0.5), widths 2-1-2-2 (f = W^T h + b convention).

    Args:
        X: inputs (K, 2).

    Returns:
        The scores (K, 2).
    """
    s = _leaky(0.5)
    h = s(X.sum(1))
    y1, y2 = s(h), s(-h)
    return torch.stack([2 * y1 + 3 * y2, y1 + 2 * y2 + 1], 1)


def region_531_union(X: torch.Tensor) -> torch.Tensor:
    """C_1 of 5.3.1 as derived: {x1 + x2 > 2} U {x1 + x2 < -4}.

    Args:
        X: inputs (K, 2).

    Returns:
        Membership (K,) of C_1.
    """
    s = X.sum(1)
    return (s > 2) | (s < -4)


def region_531_seed(X: torch.Tensor) -> torch.Tensor:
    """C_1 of 5.3.1 as printed in the seed: {x1 + x2 - 2 > 0 and x1 + x2 + 4 < 0} (empty).

    Args:
        X: inputs (K, 2).

    Returns:
        Membership (K,) of the printed set.
    """
    s = X.sum(1)
    return (s - 2 > 0) & (s + 4 < 0)


def example_532(alpha: float, *, extra_unit: bool = False):
    """Sec. 5.3.2 (rank-deficient W_1, data 5.4), unit 0 = blue, unit 1 = red; with
    ``extra_unit`` the derived n_1 = d + 1 = 3 example whose W_1 has full rank 2.

    Args:
        alpha: the leaky-ReLU slope.
        extra_unit: add the third unit sigma(x_2) with zero output weights.

    Returns:
        The net f(X) -> scores (K, 2), with its first-layer weights as ``f.W1``.
    """
    s = _leaky(alpha)

    def f(X: torch.Tensor) -> torch.Tensor:
        h1, h2 = s(X[:, 0] - 1), s(-X[:, 0] - 1)
        blue = h1 + h2 + (0.0 * s(X[:, 1]) if extra_unit else 0.0)
        return torch.stack([blue, torch.full_like(blue, -2 * alpha)], 1)

    f.W1 = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]] if extra_unit
                        else [[1.0, -1.0], [0.0, 0.0]], dtype=torch.float64)
    return f


def region_532(X: torch.Tensor) -> torch.Tensor:
    """The blue region of 5.3.2: {|x1| > 1}.

    Args:
        X: inputs (K, 2).

    Returns:
        Membership (K,) of the blue region.
    """
    return X[:, 0].abs() > 1


def example_533(X: torch.Tensor) -> torch.Tensor:
    """Sec. 5.3.3: ReLU, widths 2-2-2-2, pyramidal with full-rank weights.

    Args:
        X: inputs (K, 2).

    Returns:
        The scores (K, 2).
    """
    W1T, W2T, W3T = (W.to(X.dtype) for W in WEIGHTS_533)
    b2 = torch.tensor([math.sqrt(2.0) - 1.0, -3.0], dtype=X.dtype) / math.sqrt(2.0)
    h1 = torch.relu(X @ W1T.T)
    h2 = torch.relu(h1 @ W2T.T + b2)
    return h2 @ W3T.T + torch.tensor([1.0, 0.0], dtype=X.dtype)


WEIGHTS_533 = (torch.eye(2, dtype=torch.float64),
               (math.sqrt(2.0) / 2) * torch.tensor([[1.0, 1.0], [-1.0, 1.0]], dtype=torch.float64),
               torch.tensor([[-1.0, 0.0], [0.0, -3.0]], dtype=torch.float64))
"""W_1^T, W_2^T, W_3^T of Sec. 5.3.3 (b_1 = 0, b_2 = (sqrt 2 - 1, -3) / sqrt 2, b_3 = (1, 0))."""


def region_533(X: torch.Tensor) -> torch.Tensor:
    """C_1 of 5.3.3: {x1 < 1, x2 < 1, x1 + x2 < 1} U {x2 > 4, 2 x1 - x2 + 4 < 0}.

    Args:
        X: inputs (K, 2).

    Returns:
        Membership (K,) of C_1.
    """
    x1, x2 = X[:, 0], X[:, 1]
    return ((x1 < 1) & (x2 < 1) & (x1 + x2 < 1)) | ((x2 > 4) & (2 * x1 - x2 + 4 < 0))


def random_pyramidal(widths: list[int], activation: str, gen: torch.Generator, alpha: float):
    """A random net with Gaussian weights and biases, f = W^T h + b per layer; returns the
    function and its weight matrices (the biases are ``f.biases``, the activation ``f.act``).

    Args:
        widths: [d, n_1, ..., n_L].
        activation: ``"leaky_relu"`` or another name of :func:`~valleys.nets.get_activation`.
        gen: the random generator.
        alpha: the leaky-ReLU slope.

    Returns:
        ``(f, Ws)``: the net and its weight matrices (d_l x d_{l+1}).
    """
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
    along the whole segment (NG-T5.2.3's argument); the caller checks it by a forward pass.

    Args:
        f: a net of :func:`random_pyramidal` (hidden widths 2, invertible W).
        Ws: its weight matrices.
        x_a: the start (2,).
        x_b: the end (2,).
        samples: points on the path.

    Returns:
        The inputs (samples, 2).
    """
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
    tie_tol at every one of PATH_SAMPLES points); also the smallest margin seen.

    Args:
        f: the net.
        Ws: its weight matrices.
        reg: its :class:`~valleys.expressivity.regions.DecisionRegions`.
        tie_tol: margins <= tie_tol are ties.

    Returns:
        ``(joined, smallest margin)``.
    """
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
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
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


def _layer_preimages(p: AnalyticParams, gen: torch.Generator) -> list[dict]:
    """NG-L5.2.2 on random layers x -> sigma(W^T x + b), W (2 x n), n in {1, 2}, leaky ReLU: the
    grid components (8-neighbour) of the preimage of a disk (n = 2) or an interval (n = 1) of
    radius 1/4 around the image of a random point x_0 of [-1, 1]^2. The window: [-2, 2]^2 for
    n = 1 (the strip crosses it near x_0, at least a few pixels wide); for n = 2 the bounding box
    (+10%) of the preimage's boundary, the circle mapped back through sigma^{-1} and W^{-T}
    (only the window; the components come from the forward map on the grid)."""
    act = _leaky(p.net_alpha)
    rows = []
    for k in range(p.n_nets):
        n = 1 + k % 2
        W = torch.randn(2, n, generator=gen, dtype=torch.float64)
        b = torch.randn(n, generator=gen, dtype=torch.float64)
        x0 = 2 * torch.rand(1, 2, generator=gen, dtype=torch.float64) - 1
        c = act(x0 @ W + b)
        full = matrix_rank(W, tau=p.rank_tau, warn=False).count == n
        box: tuple = (-2.0, 2.0)
        if n == 2 and full:
            phi = torch.linspace(0, 2 * math.pi, 2001, dtype=torch.float64)[:, None]
            y = c + 0.25 * torch.cat([phi.cos(), phi.sin()], 1)
            edge = (torch.where(y >= 0, y, y / p.net_alpha) - b) @ torch.linalg.inv(W)
            lo, hi = edge.min(0).values, edge.max(0).values
            pad = 0.1 * (hi - lo)
            box = ((float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1])))
        _, _, pts = grid(box, p.resolution)
        inside = (act(pts @ W + b) - c).norm(dim=1) < 0.25
        info, _ = count_components(inside.numpy().reshape(p.resolution, p.resolution), connectivity=2)
        rows.append({"example": "L5.2.2 layer", "net": k, "input_dim": 2, "layer_width": n,
                     "layer_full_rank": full, "preimage_components": info.count, "status": info.status})
    return rows


def _cubic_counterexample(samples: int = 60001) -> dict:
    """NG-L5.2.2's counterexample: m = 1 < n = 2, sigma(t) = t^3, W^T = (-1, 1)^T, b = 0, so
    f(x) = (-x^3, x^3); the preimage of the annulus 1/2 < |y| < 2 (open, connected) on a grid
    of [-3, 3], its components, and mismatches with the closed form
    (1 / (2 sqrt 2))^(1/3) < |x| < sqrt(2)^(1/3)."""
    xs = torch.linspace(-3.0, 3.0, samples, dtype=torch.float64)
    radius = torch.stack([-xs ** 3, xs ** 3], 1).norm(dim=1)
    inside = (radius > 0.5) & (radius < 2.0)
    info, _ = count_components(inside.numpy()[None, :])
    closed = (xs.abs() > (0.5 / math.sqrt(2)) ** (1 / 3)) & (xs.abs() < math.sqrt(2) ** (1 / 3))
    return {"components": info.count, "mismatches": int((inside != closed).sum())}


def _mismatches(model, truth, box, resolution, tie_tol) -> tuple[int, int]:
    """Grid points (away from ties) where the net's class-0 region and ``truth`` disagree,
    and the number of tie points."""
    regions = decision_regions(model, box, resolution, tie_tol=tie_tol)
    _, _, pts = grid(box, resolution)
    lab = regions.labels.reshape(-1)
    ok = lab != TIE
    expected = truth(pts).numpy()
    return int(((lab == 0) != expected)[ok].sum()), int((~ok).sum())


def _examples(p: AnalyticParams) -> list[tuple]:
    """(name, net, class, closed-form region of the class, expected components) of Sec. 5.3."""
    return [
        ("5.3.1 leaky(0.5) 2-1-2-2", example_531, 0, region_531_union, 2),
        ("5.3.2 rank-deficient W1", example_532(p.alpha), 0, region_532, 2),
        ("derived n1 = d+1 = 3", example_532(p.alpha, extra_unit=True), 0, region_532, 2),
        ("5.3.3 relu 2-2-2-2", example_533, 0, region_533, 2),
    ]


def measure(p: AnalyticParams) -> Measurement:
    """Regions of the thesis' examples over growing windows, against their closed forms; the
    region status of ``n_nets`` random nets per family.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`, one row per (example, window, class), per random net and
        per random layer.
    """
    rows, mismatches, shown = [], {}, []
    box = (-p.half_width, p.half_width)
    for name, f, cls, truth, _ in _examples(p):
        wins = regions_by_window(f, box, p.resolution, p.scales, tie_tol=p.tie_tol)
        bad, ties = _mismatches(f, truth, box, p.resolution, p.tie_tol)
        mismatches[name] = {"mismatches": bad, "ties": ties}
        rows += [{"example": name, "scale": s, "class": j, "components": w.count(j),
                  "status": w.status(j), "tie_fraction": w.tie_fraction}
                 for s, w in zip(p.scales, wins, strict=True) for j in range(w.n_classes)]
        shown.append((name, wins[0], wins[0].count(cls), window_status(wins, cls)[0]))

    # the seed's "and" form of 5.3.1 is empty; the net's region is not
    _, _, pts = grid(box, p.resolution)
    seed_pixels = int(region_531_seed(pts).sum())
    union_pixels = int(region_531_union(pts).sum())
    w1 = example_532(p.alpha, extra_unit=True).W1
    r = matrix_rank(w1, tau=p.rank_tau, warn=False).count
    hypotheses = {"5.3.2 rank W_1": matrix_rank(example_532(p.alpha).W1, tau=p.rank_tau, warn=False).count,
                  "5.3.3 ranks W_1, W_2, W_3": [matrix_rank(W, tau=p.rank_tau, warn=False).count
                                                for W in WEIGHTS_533]}
    wins_tie = decision_regions(example_532(p.alpha), box, p.resolution, tie_tol=p.tie_tol)

    # random full-rank pyramidal nets (T5.2.3) and one-hidden-layer sigmoid nets (T5.2.4)
    gen = check_generator(p.seed)
    net_box = (-p.net_half_width, p.net_half_width)
    tally, low_ranks = {}, {}
    for family in ("leaky_relu", "sigmoid"):
        counts = {"connected": 0, "disconnected": 0, "inconclusive": 0}
        low_rank = 0
        for k in progress(range(p.n_nets), f"random {family} nets"):
            hidden = 1 if family == "sigmoid" else 1 + k % p.max_hidden
            m = 2 + k % 2
            f, Ws = random_pyramidal([2] * (hidden + 1) + [m], family, gen, p.net_alpha)
            deficient = any(matrix_rank(W, tau=p.rank_tau, warn=False).count < 2 for W in Ws[:-1])
            low_rank += deficient
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
                         "classes": m, "status": worst, "input_dim": 2, "max_hidden_width": 2,
                         "hidden_full_rank": not deficient, "grid_status": next(
                             (w for w in ("disconnected", "inconclusive") if w in statuses), "connected"),
                         "path_min_margin": path_margin,
                         "components": [reg.count(j) for j in range(m)]})
        tally[family] = counts
        low_ranks[family] = low_rank
    rows += _layer_preimages(p, gen)
    table = pd.DataFrame(rows)
    table["components"] = table["components"].astype(str)
    return Measurement(table, {"random_nets": tally, "examples": mismatches,
                               "seed_form_pixels": seed_pixels, "union_form_pixels": union_pixels,
                               "derived_W1_rank": r, "ties_532": {"red_components": wins_tie.count(1),
                                                                  "tie_fraction": wins_tie.tie_fraction},
                               "low_rank_nets": low_ranks, "cubic_counterexample": _cubic_counterexample(),
                               "example_ranks": hypotheses},
                       extras={"shown": shown})


def judge(m: Measurement, p: AnalyticParams) -> Verdict:
    """The examples' closed forms and component counts; the 5.3.1 erratum; the random nets' regions connected.

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table, summary, verdict = m.table, m.summary, Verdict()
    for name, _, cls, _, expected in _examples(p):
        bad, ties = summary["examples"][name]["mismatches"], summary["examples"][name]["ties"]
        verdict.add(f"{name}: grid labels vs the closed-form region (mismatches)", bad, 0, p.tie_tol,
                    bad == 0, note=f"{ties} tie points excluded", kind="evidence")
        mine = table[(table["example"] == name) & (table["class"] == cls)]
        counts = [int(c) for c in mine["components"]]
        status = combine_windows(mine["status"].iloc[0], counts)
        verdict.add(f"{name}: components of the class-{cls} region over windows x{list(p.scales)}",
                    counts, expected, None, all(c == expected for c in counts) and status != "connected",
                    note=f"status {status}: every component touches the edge in every window"
                    if status == "stable" else f"status {status}", kind="evidence")
    seed_pixels, union_pixels = summary["seed_form_pixels"], summary["union_form_pixels"]
    verdict.add("5.3.1: seed's C_1 = {x1+x2 > 2 and x1+x2 < -4} is empty, the net's C_1 is not",
                {"seed_form_pixels": seed_pixels, "union_form_pixels": union_pixels},
                "seed form empty; union form = net region", None,
                seed_pixels == 0 and union_pixels > 0, kind="erratum",
                note="CLAIMS.md NG-5.3.1: the correct set is the union")
    ranks = summary["example_ranks"]
    verdict.add("5.3.2 breaks only T5.2.3's full rank: W_1 has rank 1 < 2", ranks["5.3.2 rank W_1"], 1, p.rank_tau,
                ranks["5.3.2 rank W_1"] == 1, kind="consistency",
                note="widths 2-2-2 are pyramidal and leaky ReLU is bijective: the rank is the hypothesis that fails")
    r533 = ranks["5.3.3 ranks W_1, W_2, W_3"]
    verdict.add("5.3.3 breaks only T5.2.3's bijective sigma: W_1, W_2, W_3 have full rank 2",
                r533, [2, 2, 2], p.rank_tau, r533 == [2, 2, 2],
                kind="consistency", note="widths 2-2-2-2 are pyramidal: ReLU (not onto R) is the hypothesis that fails")
    r = summary["derived_W1_rank"]
    verdict.add("derived n1 = 3 example: W_1 (2x3) has full rank 2", r, 2, p.rank_tau, r == 2,
                kind="consistency")
    red, tie_fraction = summary["ties_532"]["red_components"], summary["ties_532"]["tie_fraction"]
    verdict.add("5.3.2: the red region is empty (the strip |x1| <= 1 is all ties)",
                {"red_components": red, "tie_fraction": round(tie_fraction, 4)},
                {"red_components": 0, "tie_fraction": round(1 / p.half_width, 4)}, 0.01,
                red == 0 and abs(tie_fraction - 1 / p.half_width) < 0.01,
                note="f_blue = f_red = -2 alpha on the strip, so the red samples are ties, not a 'perfect fit' "
                     "as the thesis says (the strict region C_red is empty); the blue region's two components "
                     "are the example's point and are checked above",
                kind="erratum")
    for family in ("leaky_relu", "sigmoid"):
        nets = table[table["example"] == f"random {family}"]
        ok = (nets["hidden_full_rank"].astype(bool) & (nets["max_hidden_width"] <= nets["input_dim"])
              & ((nets["hidden_layers"] == 1) | (family == "leaky_relu")))
        theorem = "T5.2.3" if family == "leaky_relu" else "T5.2.4"
        verdict.hypothesis(f"random {family} nets meet {theorem}'s hypotheses (hidden W full rank, d >= n_1 >= ...)",
                           f"{int(ok.sum())} of {len(nets)} nets", "full rank, pyramidal", bool(ok.any()),
                           note=f"left out: nets {nets.loc[~ok, 'net'].tolist()}" if (~ok).any() else "")
        name = (f"random {family} pyramidal nets with a region split on the grid that no "
                "verified path joins")
        covered = nets[ok]
        if covered.empty:
            verdict.not_covered(name, 0, f"no random {family} net meets {theorem}'s hypotheses")
            continue
        counts = {"connected": 0, "disconnected": 0, "inconclusive": 0}
        for st in covered["status"]:
            counts[st] = counts.get(st, 0) + 1
        split = counts.get("disconnected", 0) + counts.get("inconclusive", 0)
        verdict.add(name, split, 0, None, split == 0,
                    note=f"{counts} over {len(covered)} covered nets. A grid split (an interior component on "
                         "the grid and on the 2x finer grid, or components touching the edge) is "
                         "tested by joining each piece to the largest with a path whose last hidden "
                         "layer moves on a straight segment (mapped back through the layers' "
                         f"inverses) and a forward pass at {PATH_SAMPLES} points keeping the class "
                         "with margin > tie_tol; 'connected (joined by path)' = a split the grid "
                         "could not resolve (a region thinner than a pixel). A disconnected region "
                         "admits no such path.",
                    kind="evidence")
    layers = table[table["example"] == "L5.2.2 layer"]
    ok = layers["layer_full_rank"].astype(bool) & (layers["input_dim"] >= layers["layer_width"])
    verdict.hypothesis("random layers meet L5.2.2's hypotheses (W (m x n) of full rank, m >= n)",
                       f"{int(ok.sum())} of {len(layers)} layers", "full rank, m >= n", bool(ok.any()))
    name = "L5.2.2: the preimage of a disk / interval under a full-rank leaky-ReLU layer is connected (grid)"
    covered = layers[ok]
    if covered.empty:
        verdict.not_covered(name, 0, "no random layer meets L5.2.2's hypotheses")
    else:
        split = int((covered["preimage_components"] != 1).sum())
        verdict.add(name, split, 0, None, split == 0,
                    note=f"{len(covered)} layers (n = 1: an interval, n = 2: a disk of radius 1/4) on a "
                         f"{p.resolution}^2 grid around the preimage (8-neighbour components); components "
                         f"{sorted(set(covered['preimage_components'].astype(int)))}", kind="evidence")
    cubic = summary["cubic_counterexample"]
    verdict.add("L5.2.2 counterexample (m = 1 < n = 2, sigma = t^3): the annulus' preimage has 2 components",
                cubic, {"components": 2, "mismatches": 0}, None, cubic == {"components": 2, "mismatches": 0},
                note="f(x) = (-x^3, x^3), annulus 1/2 < |y| < 2; 60001 points of [-3, 3] against the closed form",
                kind="evidence")
    return verdict


def draw(m: Measurement, p: AnalyticParams) -> dict:
    """The regions of the thesis' examples in the finest window.

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        Figures by name, the examples' regions.
    """
    fig, axes = figure(len(m.extras["shown"]), width=4.0)
    for ax, (name, reg, count, status) in zip(axes, m.extras["shown"], strict=True):
        plot_regions(ax, reg, title=f"{name}\n{count} components ({status})")
    return {"examples": fig}


nguyen_regions_analytic = experiment(
    "nguyen-regions-analytic", source=SOURCE_004_CH5 + ", Sec. 5.2-5.3 (examples and theorems)",
    claim="NG-5.3.1/5.3.2/5.3.3/L5.2.2: the thesis' examples have a 2-component region (5.3.1 in "
          "the union form), as has L5.2.2's cubic counterexample, while full-rank layers pull connected sets "
          "back to connected ones; NG-T5.2.3/T5.2.4: random full-rank pyramidal nets give connected regions",
    params=AnalyticParams, judge=judge, draw=draw)(measure)
