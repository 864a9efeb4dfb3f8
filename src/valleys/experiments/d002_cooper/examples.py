"""Cooper's toy landscapes: an attracting degenerate critical point, and the §5.3 examples.

``cooper-examples`` (COO-Examples §5.3): every critical point of x^4 + 5x^3 + 6x^2,
5x^4 - 5x^2 + x (in (x, y)) and x^2 - y^2 is found by batched damped Newton from many
starts, classified, and compared with the real roots of the derivative polynomial;
sublevel sets on a grid exhibit the spurious valleys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.optimize
import torch
from matplotlib.figure import Figure

from ...core import Landscape
from ...critical import classify, damped_newton_batch, deduplicate
from ...record import Measurement
from ..common import figure
from ..params import Params
from ..registry import experiment
from ..result import Verdict

# ------------------------------------------------------------------ cooper-examples


@dataclass(frozen=True)
class ExamplesParams(Params):
    """Parameters of ``cooper-examples``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n_starts: Newton starts per function (uniform in the box).
        box: half-width of the start box (centred at the origin, x shifted for f1).
        max_iter: damped-Newton iterations.
        grad_tol: relative gradient tolerance of the Newton runs.
        critical_tol: relative gradient threshold of classify ("critical" when
            ||grad|| <= critical_tol * max(1, |L|)).
        tau: relative zero-eigenvalue threshold of classify.
        root_tol: a found point matches an analytic critical point within this distance.
        dedup_tol: found points closer than this are the same critical point.
        grid: grid points per axis of the sublevel-set analysis.
        level_tol: a component's infimum exceeds the global one when higher by this.
    """

    n_starts: int = 400
    box: float = 3.0
    max_iter: int = 200
    grad_tol: float = 1e-10
    critical_tol: float = 1e-8
    tau: float = 1e-8
    root_tol: float = 1e-8
    dedup_tol: float = 1e-6
    grid: int = 801
    level_tol: float = 1e-3
    QUICK: ClassVar[dict] = {"n_starts": 100, "grid": 301}
    LIMITS: ClassVar[dict[str, str]] = {"n_starts": ">= 1", "box": "> 0", "max_iter": ">= 1",
                                        "grad_tol": "> 0", "critical_tol": "> 0", "tau": "in [0, 1]",
                                        "root_tol": "> 0", "dedup_tol": "> 0", "grid": ">= 11",
                                        "level_tol": ">= 0"}


@dataclass(frozen=True)
class _Toy:
    name: str
    f: object
    dim: int
    coeffs: tuple[float, ...]   # derivative polynomial in x, highest degree first
    shift: float


def _f1(t):
    return t[0] ** 4 + 5 * t[0] ** 3 + 6 * t[0] ** 2


def _f2(t):
    return 5 * t[0] ** 4 - 5 * t[0] ** 2 + t[0] + 0.0 * t[1]


def _f3(t):
    return t[0] ** 2 - t[1] ** 2


_TOYS = (
    _Toy("x^4+5x^3+6x^2", _f1, 1, (4.0, 15.0, 12.0, 0.0), -1.5),
    _Toy("5x^4-5x^2+x", _f2, 2, (20.0, 0.0, -10.0, 1.0), 0.0),
    _Toy("x^2-y^2", _f3, 2, (), 0.0),
)


def measure(p: ExamplesParams) -> Measurement:
    """Find, deduplicate and classify the critical points; sublevel sets; the level set of x^2 - y^2.

    Args:
        p: the parameters.

    Returns:
        The measurement: the table of measured rows with its summary.
    """
    gen = torch.Generator().manual_seed(p.seed)
    rows, converged = [], {}
    for toy in _TOYS:
        toy_rows, converged[toy.name] = _critical_rows(toy, p, gen)
        rows += toy_rows
    table = pd.DataFrame(rows)
    comps = {toy.name: _sublevel_components(toy, table, p) for toy in _TOYS[:2]}
    worst, counts = _level_set(p)
    meta = {name: {k: c[k] for k in ("level", "n_components", "global_inf", "max_component_inf", "inside_grid")}
            for name, c in comps.items()}
    meta.update({"converged_runs": converged, "level_set_max_root_error": worst,
                 "level_set_roots_per_line": counts})
    return Measurement(table, meta, extras={"comps": comps})


def judge(m: Measurement, p: ExamplesParams) -> Verdict:
    """Critical points and their classes against the analytic ones, spurious valleys, x^2 - y^2's zero set.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    v = Verdict()
    for toy in _TOYS:
        rows = m.table[m.table.function == toy.name].to_dict("records")
        _add_toy_checks(v, toy, rows, _analytic_points(toy), m.summary["converged_runs"][toy.name], p)
    for toy in _TOYS[:2]:
        c = m.summary[toy.name]
        name = f"{toy.name}: sublevel component with inf > global inf (spurious valley)"
        v.hypothesis(f"{toy.name}: the sublevel set {{f <= {c['level']:.4f}}} lies inside the grid's x-range "
                     "(its components are those of R^n, not cut by the box)", c["inside_grid"], True,
                     bool(c["inside_grid"]), note="f is coercive in x (and constant in y for 5x^4-5x^2+x)")
        if not c["inside_grid"]:
            v.not_covered(name, f"> {c['global_inf']:.6f}", "the sublevel set reaches the grid's x-edge: "
                          "a component there may join others outside the box")
            continue
        v.add(name, c["max_component_inf"], f"> {c['global_inf']:.6f}", p.level_tol,
              c["max_component_inf"] > c["global_inf"] + p.level_tol,
              note=f"{{f <= {c['level']:.4f}}} on a {p.grid}-point grid has "
                   f"{c['n_components']} components", kind="evidence")
    _level_set_check(v, p, m.summary["level_set_max_root_error"], m.summary["level_set_roots_per_line"])
    return v


def draw(m: Measurement, p: ExamplesParams) -> dict:
    """The three toys with their critical points and sublevel components.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name.
    """
    return {"critical_points": _examples_figure(m.table, m.extras["comps"])}


run_examples = experiment(
    "cooper-examples", source="002 Cooper, §5.3 examples",
    claim="COO-Examples §5.3: x^4+5x^3+6x^2 has an isolated strict non-global minimum in "
          "a spurious valley; 5x^4-5x^2+x has a spurious valley whose minima are lines; "
          "0 is the only critical point of x^2-y^2, a saddle",
    params=ExamplesParams, judge=judge, draw=draw)(measure)


def _analytic_points(toy: _Toy) -> np.ndarray:
    if not toy.coeffs:
        return np.zeros(1)
    roots = np.roots(toy.coeffs)
    return np.sort(roots[np.abs(roots.imag) < 1e-12].real)


def _critical_rows(toy: _Toy, p, gen) -> tuple[list[dict], int]:
    land = Landscape.from_function(toy.f, toy.dim)
    starts = (2 * torch.rand(p.n_starts, toy.dim, generator=gen, dtype=torch.float64) - 1) * p.box
    starts[:, 0] += toy.shift
    run = damped_newton_batch(land, starts, max_iter=p.max_iter, grad_tol=p.grad_tol)
    found = run.thetas[run.converged]
    key = found[:, :1] if toy.name == "5x^4-5x^2+x" else found  # f2 is constant in y
    clusters = deduplicate(key, tol=p.dedup_tol)
    reps = found[[int(torch.nonzero(clusters.labels == c)[0]) for c in range(len(clusters.counts))]]
    analytic = _analytic_points(toy)
    # f1 and f2 are coercive in x, so their least critical value is the global minimum;
    # x^2 - y^2 is unbounded below and has no floor.
    floor = (min(_value(toy, x) for x in analytic)
             if toy.coeffs else None)
    rows = []
    for theta, count in zip(reps, clusters.counts.tolist(), strict=True):
        cp = classify(land, theta, floor=floor, grad_tol=p.critical_tol, tau=p.tau)
        dist = np.abs(analytic - float(theta[0]))
        expected = _expected_class(toy, float(analytic[int(dist.argmin())]), floor)
        rows.append({"function": toy.name, "x": float(theta[0]),
                     "y": float(theta[1]) if toy.dim > 1 else np.nan, "runs": count,
                     "loss": cp.loss, "grad_norm": cp.grad_norm, "index": cp.index,
                     "nullity": cp.nullity, "kind": cp.kind, "expected_kind": expected[2],
                     "expected_index": expected[0], "expected_nullity": expected[1],
                     "distance_to_analytic": float(dist.min()),
                     "min_eigenvalue": float(cp.eigenvalues[0]),
                     "max_eigenvalue": float(cp.eigenvalues[-1])})
    return rows, int(run.converged.sum())


def _value(toy: _Toy, x: float) -> float:
    return float(toy.f(torch.tensor([float(x), 0.0][: toy.dim], dtype=torch.float64)))


def _expected_class(toy: _Toy, x: float, floor: float) -> tuple[int, int, str]:
    if toy.name == "x^2-y^2":
        return 1, 0, "saddle"
    curv = float(np.polyval(np.polyder(np.array(toy.coeffs)), x))
    value = _value(toy, x)
    index, nullity = int(curv < 0), toy.dim - 1
    if curv < 0:
        kind = "local-max" if nullity == 0 else "degenerate (max-like)"
    elif abs(value - floor) <= 1e-8 * max(1.0, abs(floor)):
        kind = "global-min"
    else:
        kind = "local-min" if nullity == 0 else "degenerate (min-like)"
    return index, nullity, kind


def _add_toy_checks(v: Verdict, toy: _Toy, rows: list[dict], analytic, converged: int, p) -> None:
    found = np.array([r["x"] for r in rows])
    matched = all(r["distance_to_analytic"] <= p.root_tol for r in rows)
    every = all(np.abs(found - a).min(initial=np.inf) <= p.root_tol for a in analytic)
    v.add(f"{toy.name}: critical points found = analytic ones", len(rows), len(analytic),
          p.root_tol, matched and every and len(rows) == len(analytic),
          note=f"found x = {np.round(np.sort(found), 6).tolist()}; "
               f"{converged}/{p.n_starts} runs converged", kind="evidence")
    agree = [(r["index"], r["nullity"], r["kind"])
             == (r["expected_index"], r["expected_nullity"], r["expected_kind"]) for r in rows]
    v.add(f"{toy.name}: (index, nullity, kind) match the analytic classification",
          sum(agree), len(rows), None, all(agree) and bool(rows),
          note="; ".join(f"x={r['x']:.4f}: {r['kind']} (i={r['index']}, n={r['nullity']}, "
                         f"L={r['loss']:.4f})" for r in rows), kind="evidence")


def _grid_values(toy: _Toy, p) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    land = Landscape.from_function(toy.f, toy.dim)
    xs = np.linspace(-p.box + toy.shift, p.box + toy.shift, p.grid) if toy.dim == 1 \
        else np.linspace(-1.5, 1.5, p.grid)
    axes = (xs,) if toy.dim == 1 else (xs, np.linspace(-1.0, 1.0, p.grid // 2 + 1))
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = torch.from_numpy(np.stack([m.reshape(-1) for m in mesh], axis=1))
    return land.losses(pts).numpy().reshape(mesh[0].shape), axes


def _sublevel_components(toy: _Toy, table: pd.DataFrame, p) -> dict:
    rows = table[table.function == toy.name]
    mins = rows[rows.expected_kind.isin(["local-min", "degenerate (min-like)"])].loss
    maxs = rows[rows.expected_index == 1].loss
    level = 0.5 * (float(mins.max()) + float(maxs.min())) if len(mins) and len(maxs) else 0.0
    F, axes = _grid_values(toy, p)
    below = F <= level
    labels, n = scipy.ndimage.label(below)
    inside = not (below[0].any() or below[-1].any())   # first axis is x
    infs = scipy.ndimage.minimum(F, labels, index=np.arange(1, n + 1)) if n else np.zeros(0)
    return {"level": level, "n_components": int(n), "global_inf": float(F.min()),
            "max_component_inf": float(np.max(infs)) if n else float("nan"), "inside_grid": bool(inside),
            "F": F, "axes": axes, "labels": labels}


def _level_set(p) -> tuple[float, list[int]]:
    """Find the zero level set of x^2 - y^2 numerically and compare it with the lines x = +-y.

    For each x on a grid of [-box, box] (x != 0), f(x, .) is sampled on a fine y grid of
    [-2 box, 2 box]; every sign change is refined by Brent's method. COO-Examples §5.3 says
    the roots are exactly y = +x and y = -x (two per x, one at x = 0).
    """
    land = Landscape.from_function(_f3, 2)
    xs = np.linspace(-p.box, p.box, 41)
    ys = np.linspace(-2 * p.box, 2 * p.box, 4000)
    worst, counts = 0.0, []
    for x in xs[np.abs(xs) > 1e-12]:
        pts = torch.from_numpy(np.stack([np.full_like(ys, x), ys], 1))
        vals = land.losses(pts).numpy()
        idx = np.nonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) < 0)[0]

        def g(y, x=x):
            return float(land.loss(torch.tensor([x, y], dtype=torch.float64)))

        roots = sorted([scipy.optimize.brentq(g, ys[i], ys[i + 1], xtol=1e-14) for i in idx]
                       + ys[vals == 0].tolist())
        counts.append(len(roots))
        if len(roots) == 2:
            worst = max(worst, abs(roots[0] + abs(x)), abs(roots[1] - abs(x)))
    return worst, counts


def _level_set_check(v: Verdict, p, worst: float, counts: list[int]) -> None:
    """The zero level set of x^2 - y^2 is the lines x = +-y: two roots per line, at +-x."""
    ok = all(c == 2 for c in counts)
    v.add("x^2-y^2: numerically found zero level set = the lines x = +-y (max |root - (+-x)|)",
          worst, 0.0, p.root_tol, ok and worst <= p.root_tol,
          note=f"{len(counts)} vertical lines x = const, 4000 samples of y each, sign changes "
               f"refined by brentq; roots per line: {sorted(set(counts))} (expected [2])",
          kind="evidence")


def _examples_figure(table: pd.DataFrame, comps: dict) -> Figure:
    fig, (ax1, ax2, ax3) = figure(3, width=4, height=3.8)
    c1 = comps["x^4+5x^3+6x^2"]
    ax1.plot(c1["axes"][0], c1["F"])
    ax1.axhline(c1["level"], color="gray", ls=":")
    ax1.set(ylim=(-3, 5), xlabel="x", title="x^4+5x^3+6x^2")
    c2 = comps["5x^4-5x^2+x"]
    ax2.contourf(c2["axes"][0], c2["axes"][1], c2["labels"].T, cmap="Pastel1")
    ax2.contour(c2["axes"][0], c2["axes"][1], c2["F"].T, levels=15, linewidths=0.5)
    ax2.set(xlabel="x", ylabel="y", title=f"5x^4-5x^2+x, components of {{f <= {c2['level']:.2f}}}")
    g = np.linspace(-2, 2, 101)
    X, Y = np.meshgrid(g, g)
    ax3.contour(X, Y, X ** 2 - Y ** 2, levels=15, linewidths=0.6)
    ax3.plot(g, g, "k--", g, -g, "k--", lw=0.8)
    ax3.set(xlabel="x", ylabel="y", title="x^2-y^2, level set 0")
    for ax, name in ((ax1, "x^4+5x^3+6x^2"), (ax2, "5x^4-5x^2+x"), (ax3, "x^2-y^2")):
        rows = table[table.function == name]
        ys = rows.loss if name == "x^4+5x^3+6x^2" else rows.y.fillna(0.0)
        ax.scatter(rows.x, ys, c=["tab:green" if "min" in k else "tab:red" for k in rows.kind],
                   zorder=3, s=25)
    return fig
