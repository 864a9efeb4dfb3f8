"""Document 001 (Sun et al. survey): the two-parameter toy landscapes.

``sun-single-point``: (y - u phi(v x))^2 — sub-optimal minima exist iff a zero of phi
is a local extremum of phi (SUN-T3.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy.optimize import brentq, minimize_scalar

from ..._validation import check_generator
from ...core import Landscape
from ...critical import armijo_descent_batch
from ...errors import InvalidParameterError
from ...nets import get_activation
from ...record import Measurement
from ..common import ONE_OF_ACTIVATIONS, figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_001

# ---------------------------------------------------------------- one data point (SUN-T3.1)
#: Activations whose GD runs may stall (CLAIMS.md SUN-T3.1, correction): t^3 has degenerate
#: (third-order) saddles on the whole line v = 0, where GD slows to a crawl. For these the
#: experiment reports the stalled fraction and shows, as evidence, that every stalled run
#: sits next to a critical point of that line which is not a local minimum.
STALLING_ACTIVATIONS = ("cube",)


SINGLE_POINT_ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "softplus", "elu", "square",
                            "cube")


@dataclass(frozen=True)
class SinglePointParams(Params):
    """Parameters of ``sun-single-point``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        x: input of the single data point (nonzero).
        y: target of the single data point (nonzero).
        activations: comma-separated names tested.
        n_starts: multi-start GD runs per activation (N(0, I) starts).
        lr: initial GD step size (per-start Armijo backtracking).
        steps: number of GD steps.
        global_tol: a run reached the global minimum when L < global_tol.
        grid_lim: the direct search grid is [-grid_lim, grid_lim]^2.
        grid_points: points per axis of that grid (grid_points^2 in all; odd, so the axes are
            on the grid).
        grad_tol: a grid point is critical when ||grad L|| <= grad_tol.
        eig_tol: its Hessian is PSD when lambda_min >= -eig_tol.
        loss_floor: a critical point is sub-optimal when L > loss_floor.
        probe_radii: radii of the neighbourhood probe that certifies a local minimum.
        probe_directions: directions per radius in the probe.
        probe_tol: a probe point below L(p) - probe_tol refutes a local minimum.
        zero_grid: points per unit length of the grid that locates the zeros of phi.
        stall_tol: for the stalling activations (t^3), a run that misses global_tol must end
            within this distance of the line v = 0 (and at loss y^2 within it).
        probe_degree_radii: radii of the higher-order probe at the stalled runs' critical
            points (u, 0): descent must be found at every radius.
    """

    x: float = 1.5
    y: float = 1.0
    activations: tuple[str, ...] = SINGLE_POINT_ACTIVATIONS
    n_starts: int = 500
    lr: float = 0.5
    steps: int = 3000
    global_tol: float = 1e-10
    grid_lim: float = 3.0
    grid_points: int = 241
    grad_tol: float = 1e-10
    eig_tol: float = 1e-8
    loss_floor: float = 1e-6
    probe_radii: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    probe_directions: int = 64
    probe_tol: float = 1e-12
    zero_grid: int = 1000
    stall_tol: float = 1e-2
    probe_degree_radii: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
    QUICK = {"steps": 1500, "grid_points": 121}
    LIMITS: ClassVar[dict[str, str]] = {"x": "in [-1e6, 1e6]", "y": "in [-1e6, 1e6]",
                                        "activations": "nonempty, " + ONE_OF_ACTIVATIONS, "n_starts": ">= 1",
                                        "lr": "> 0", "steps": ">= 1", "global_tol": "> 0", "grid_lim": "> 0",
                                        "grid_points": ">= 3", "grad_tol": ">= 0", "eig_tol": ">= 0",
                                        "loss_floor": ">= 0", "probe_radii": "nonempty, > 0",
                                        "probe_directions": ">= 4", "probe_tol": ">= 0",
                                        "zero_grid": ">= 10", "stall_tol": "> 0",
                                        "probe_degree_radii": "nonempty, > 0"}

    def __post_init__(self):
        super().__post_init__()
        for name in ("x", "y"):
            if getattr(self, name) == 0:
                msg = (f"{self._owner()} parameter {name} must be nonzero (SUN-T3.1 assumes "
                       f"x, y != 0). Got 0.")
                raise InvalidParameterError(msg)


def single_point_landscape(phi, x: float, y: float) -> Landscape:
    r"""The one-point landscape \(L(u, v) = (y - u\,\varphi(vx))^2\).

    Args:
        phi: the activation (a torch callable).
        x: the data point.
        y: its target.

    Returns:
        The two-parameter :class:`~valleys.core.Landscape` (coordinates u, v).
    """
    return Landscape.from_function(lambda t: (y - t[..., 0] * phi(t[..., 1] * x)) ** 2, 2,
                                   names=("u", "v"), rowwise=True)


def zero_is_extremum(phi, *, lim: float = 5.0, per_unit: int = 1000, h: float = 1e-3,
                     zero_tol: float = 1e-12) -> tuple[bool, int]:
    r"""The SUN-T3.1 criterion: does \(\varphi\) have a zero that is a local max or min of \(\varphi\)?

    Zeros are located on a grid of \([-\)lim, lim\(]\): exact zeros, sign changes (refined by
    bisection) and touching zeros (grid minima of \(|\varphi|\) refined by a bounded scalar
    minimisation, kept when \(|\varphi| \le\) ``zero_tol``). A zero \(t_0\) is a local extremum when
    \(\varphi(t_0 - h)\) and \(\varphi(t_0 + h)\) have the same sign (or vanish).

    Args:
        phi: the activation (a torch callable).
        lim: half-width of the search interval.
        per_unit: grid points per unit length.
        h: the offset of the extremum test.
        zero_tol: largest \(|\varphi|\) of a touching zero.

    Returns:
        ``(some zero is an extremum, number of zeros found)``.
    """
    t = torch.linspace(-lim, lim, int(2 * lim * per_unit) + 1, dtype=torch.float64)
    f = phi(t)
    zeros = [float(z) for z in t[f == 0]]
    change = torch.nonzero((torch.sign(f[:-1]) * torch.sign(f[1:])) < 0).reshape(-1)
    scalar = lambda s: float(phi(torch.tensor(s, dtype=torch.float64)))  # noqa: E731
    for i in change.tolist():
        zeros.append(float(brentq(scalar, float(t[i]), float(t[i + 1]), xtol=1e-15)))
    a = f.abs()
    dips = torch.nonzero((a[1:-1] <= a[:-2]) & (a[1:-1] <= a[2:]) & (a[1:-1] > 0)).reshape(-1) + 1
    for i in dips.tolist():
        res = minimize_scalar(lambda s: abs(scalar(s)), bounds=(float(t[i - 1]), float(t[i + 1])),
                              method="bounded", options={"xatol": 1e-12})
        if abs(res.fun) <= zero_tol:
            zeros.append(float(res.x))
    zeros = sorted({round(z, 9) for z in zeros})
    for z in zeros:
        if scalar(z - h) * scalar(z + h) >= 0:
            return True, len(zeros)
    return False, len(zeros)


def _probe_min(land: Landscape, points: torch.Tensor, p: SinglePointParams) -> torch.Tensor:
    """For each point, the lowest loss on circles of the probe radii around it."""
    angles = torch.linspace(0, 2 * math.pi, p.probe_directions + 1, dtype=land.dtype)[:-1]
    ring = torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    offsets = torch.cat([r * ring for r in p.probe_radii])
    around = points[:, None, :] + offsets[None, :, :]
    return land.losses(around.reshape(-1, 2)).reshape(len(points), -1).min(1).values


def _certified_minima(land: Landscape, points: torch.Tensor, p: SinglePointParams) -> torch.Tensor:
    """Mask of points that are sub-optimal local minima: critical, PSD, loss above the
    floor, and no lower loss in the neighbourhood probe."""
    values = land.losses(points)
    gnorm = land.grads(points).norm(dim=1)
    lam_min = torch.linalg.eigvalsh(land.hessians(points))[:, 0]
    candidate = (gnorm <= p.grad_tol) & (lam_min >= -p.eig_tol) & (values > p.loss_floor)
    if not candidate.any():
        return candidate
    idx = torch.nonzero(candidate).reshape(-1)
    lowest = _probe_min(land, points[idx], p)
    candidate[idx] = lowest >= values[idx] - p.probe_tol
    return candidate


def measure(p: SinglePointParams) -> Measurement:
    """Per activation: the zero criterion, multi-start GD, certified sub-optimal minima (GD ends
    and a grid) and, for the stalling activations, where the stalled runs end.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: the table and summary the judge reads.
    """
    rows, stall_probe = [], {}
    gen = check_generator(p.seed)
    starts = torch.randn(p.n_starts, 2, generator=gen, dtype=torch.float64)
    g = torch.linspace(-p.grid_lim, p.grid_lim, p.grid_points, dtype=torch.float64)
    grid = torch.cartesian_prod(g, g)
    for name in progress(p.activations, "activations"):
        phi = get_activation(name)
        land = single_point_landscape(phi, p.x, p.y)
        predicted, n_zeros = zero_is_extremum(phi, per_unit=p.zero_grid)
        ends = armijo_descent_batch(land, starts, lr=p.lr, steps=p.steps).thetas
        final = land.losses(ends)
        reached = int((final < p.global_tol).sum())
        found_gd = int(_certified_minima(land, ends, p).sum())
        found_grid = int(_certified_minima(land, grid, p).sum())
        stalled = final >= p.global_tol
        n_stalled = int(stalled.sum())
        if not predicted and name in STALLING_ACTIVATIONS and n_stalled:
            stall_probe[name] = _stall_probe(land, ends[stalled], p)
        rows.append({"activation": name, "x": p.x, "y": p.y,
                     "zeros_found": n_zeros, "zero_is_extremum": predicted,
                     "minima_from_gd": found_gd, "minima_on_grid": found_grid,
                     "runs_reaching_global": reached, "runs": p.n_starts,
                     "stalled": n_stalled, "stalled_fraction": n_stalled / p.n_starts,
                     "max_final_loss": float(final.max())})
    table = pd.DataFrame(rows)
    stall = {r.activation: r.stalled_fraction for r in table.itertuples()
             if r.activation in STALLING_ACTIVATIONS}
    return Measurement(table, {"x": p.x, "y": p.y, "stalled_fraction": stall, "stall_probe": stall_probe})


def judge(m: Measurement, p: SinglePointParams) -> Verdict:
    """Sub-optimal minima found exactly where the zero criterion predicts them; elsewhere every
    run reaches the global minimum, or (t^3) stalls next to a critical point that is no minimum.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    verdict = Verdict()
    table = m.table
    nonzero = (table.x != 0) & (table.y != 0)
    verdict.hypothesis("x != 0 and y != 0 (SUN-T3.1)", f"{int(nonzero.sum())} of {len(table)} landscapes",
                       "all", bool(nonzero.any()),
                       note=f"(x, y) = {sorted(set(zip(table.x, table.y, strict=True)))}; landscapes "
                            "outside are left out (at y = 0 every point with u phi(v x) = 0 is global)")
    if not nonzero.any():
        verdict.not_covered("sub-optimal local minimum found == criterion", "the zero criterion",
                            note="no landscape meets SUN-T3.1's hypotheses")
        return verdict
    for r in table[nonzero].itertuples():
        name, predicted = r.activation, bool(r.zero_is_extremum)
        found = r.minima_from_gd + r.minima_on_grid > 0
        verdict.add(f"{name}: sub-optimal local minimum found == criterion",
                    f"found={found} (GD {r.minima_from_gd}, grid {r.minima_on_grid})",
                    f"exists={predicted}", p.grad_tol, found == predicted, kind="evidence")
        if not predicted and name in STALLING_ACTIVATIONS and r.stalled:
            _stall_checks(verdict, name, int(r.stalled), m.summary["stall_probe"][name], p)
        elif not predicted:
            verdict.add(f"{name}: GD runs reaching L < {p.global_tol:g}", r.runs_reaching_global,
                        p.n_starts, p.global_tol, r.runs_reaching_global == p.n_starts, kind="evidence")
    return verdict


def draw(m: Measurement, p: SinglePointParams) -> dict:
    """Fraction of runs reaching the global minimum against the criterion, per activation.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The figures by name: ``activations``.
    """
    table = m.table
    fig, (ax,) = figure(width=7)
    pos = np.arange(len(table))
    ax.bar(pos - 0.2, table["runs_reaching_global"] / p.n_starts, 0.4, label="GD runs reaching L=0")
    ax.bar(pos + 0.2, table["zero_is_extremum"].astype(float), 0.4,
           label="criterion: zero of phi is an extremum")
    ax.set_xticks(pos, table["activation"], rotation=30)
    ax.set(ylim=(0, 1.05), title="One data point: sub-optimal minima vs the zero criterion")
    ax.legend(fontsize=7)
    return {"activations": fig}


sun_single_point = experiment(
    "sun-single-point", source=SOURCE_001 + ", Theorem 3.1 (one data point)",
    claim="SUN-T3.1: min (y - u phi(v x))^2 has no sub-optimal local minimum iff no zero "
          "of phi is a local extremum; sub-optimal minima exist exactly for relu and z^2",
    params=SinglePointParams, judge=judge, draw=draw)(measure)


def _stall_probe(land: Landscape, ends: torch.Tensor, p: SinglePointParams) -> dict:
    """Stalled runs of t^3 (CLAIMS.md SUN-T3.1): where they end, and why that is no minimum.

    Each stalled end point (u, v) is projected onto the line v = 0, where phi(0) = phi'(0) =
    phi''(0) = 0 makes (u, 0) a critical point with zero Hessian (second order says nothing).
    A probe on circles of every radius in ``probe_degree_radii`` must find a lower loss:
    a third-order descent direction, so the limit point is a degenerate saddle.

    Returns:
        max |v| and max |L - y^2| over the stalled ends, max |grad| and max |Hessian| at their
        projections (u, 0), and how many projections the probe finds descent at.
    """
    n = len(ends)
    values = land.losses(ends)
    off_line = float(ends[:, 1].abs().max())
    off_level = float((values - p.y ** 2).abs().max())
    base = torch.stack([ends[:, 0], torch.zeros_like(ends[:, 0])], 1)
    grad0 = float(land.grads(base).abs().max())
    hess0 = float(land.hessians(base).abs().max())
    angles = torch.linspace(0, 2 * math.pi, p.probe_directions + 1, dtype=land.dtype)[:-1]
    ring = torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    v0 = land.losses(base)
    descent = torch.ones(n, dtype=torch.bool)
    for r in p.probe_degree_radii:
        around = base[:, None, :] + r * ring[None]
        lowest = land.losses(around.reshape(-1, 2)).reshape(n, -1).min(1).values
        descent &= lowest < v0 - p.probe_tol
    return {"max_abs_v": off_line, "max_abs_loss_minus_y2": off_level, "grad_max_on_line": grad0,
            "hessian_max_on_line": hess0, "descent_found": int(descent.sum())}


def _stall_checks(verdict: Verdict, name: str, n: int, probe: dict, p: SinglePointParams) -> None:
    """The checks of :func:`_stall_probe`'s measurements at the ``n`` stalled runs."""
    frac = n / p.n_starts
    off_line, off_level = probe["max_abs_v"], probe["max_abs_loss_minus_y2"]
    verdict.add(f"{name}: stalled runs end on the line v = 0 at loss y^2 (max |v|, max |L - y^2|)",
                [off_line, off_level], [0.0, 0.0], p.stall_tol,
                off_line <= p.stall_tol and off_level <= p.stall_tol,
                note=f"stalled fraction {n}/{p.n_starts} = {frac:.1%} (L >= {p.global_tol:g} after "
                     f"{p.steps} steps); CLAIMS.md SUN-T3.1 measured 15-20% with plain GD",
                kind="evidence")
    grad0, hess0, ok = probe["grad_max_on_line"], probe["hessian_max_on_line"], probe["descent_found"]
    verdict.add(f"{name}: every stalled run's limit point (u, 0) is a degenerate critical point "
                "that is not a local minimum (higher-order probe finds descent)", f"{ok}/{n}",
                f"{n}/{n}", p.probe_tol, ok == n and grad0 == 0.0 and hess0 == 0.0,
                note=f"at (u, 0): max|grad| = {grad0:.1e}, max|Hess| = {hess0:.1e}; descent found "
                     f"on circles of radii {list(p.probe_degree_radii)} ({p.probe_directions} "
                     "directions each); sampled, not a proof", kind="evidence")
