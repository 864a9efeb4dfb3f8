"""Document 003 (Safran & Shamir, ICML 2016): the quality of the initial basin.

``safran-shamir-basin-oracle``: SS-L1, every nonempty sign cell \\(B^{A,b}\\) is a basin, and
the library's basin oracle (SS-A2 identification, SS-A3 exact value) that every other
experiment of the document relies on.

Per random basin (the cell of a Gaussian initialisation, identified by
:func:`valleys.basins.basin_of`, SS-A2), the exact value of :class:`valleys.basins.BasinSolver`
(SS-A3: the convex program of SS-L1 in \\(u_i = |v_i| w_i\\), certified by KKT) is compared
with an independent solver, :func:`valleys.basins.check.projected_descent` (accelerated
projected gradient with NNLS cone projections, no QP code), started at the draw's own point
and at random interior points of the cell: no descent may end below the certified value (evidence
that the QP value is the minimum over the closed cell), and no descent may stop above it
(evidence that the cell has no other local minimum, as "local minima are global" asks): an end
above it is either stationary (projected-gradient norm at most ``stationary_tol``: a
contradiction) or still moving when its step budget ran out (no decision).

SS-L1's connectivity is checked in the network's own parameters: two interior points of the
cell are joined by the segment in \\(u\\)-space mapped back to \\((W, v)\\) by
\\(w_i = u_i/\\|u_i\\|\\), \\(v_i = b_i\\|u_i\\|\\); a separate forward pass of the ReLU network along
it must stay in the closed cell and never exceed the larger end loss (evidence: it fails if the
cell's loss were not the convex program SS-L1 says). A draw whose point is not in a cell
interior (a zero pre-activation or output weight) is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ..._validation import check_rng
from ...basins import BasinSolver, basin_of, draw_init
from ...basins.check import project_cone, projected_descent
from ...basins.partition import interior_margin
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_003


@dataclass(frozen=True)
class OracleParams(Params):
    """Parameters of ``safran-shamir-basin-oracle``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        samples: data size m (Gaussian X, N(0, 1) targets).
        dim: input dimension d.
        width: width n of the two-layer ReLU net.
        basins: random basins (cells of Gaussian initialisations; CLAIMS.md: 50, 25 here).
        starts: descents per basin: the draw's own point and ``starts - 1`` random interior
            points of the cell (CLAIMS.md: 20, 6 here). The departure keeps the full preset near
            10 minutes on one shared core: each descent takes one to three seconds, and a run of
            50 x 8 did not finish in 20 minutes.
        pgd_steps: steps of the independent projected descent.
        value_tol: a descent ends at the certified value when
            \\(|\\text{end} - \\mathrm{Bas}| \\le\\) ``value_tol`` \\(\\cdot\\max(1, \\mathrm{Bas})\\)
            (CLAIMS.md: 1e-6).
        segment_points: points of each mapped segment evaluated by the network.
        segment_tol: the loss along a segment may exceed the larger end loss by at most
            ``segment_tol`` times ``max(1, that loss)`` (float64 rounding).
        stationary_tol: a descent end above Bas is stationary (a minimiser of the convex program,
            which then contradicts the certified value) when its projected-gradient norm is at
            most this; otherwise the descent stopped short (its step budget ran out) and does not
            decide.
        sign_tol: a segment point stays in the closed cell when
            \\(a_{it}\\langle w_i, x_t\\rangle \\ge -\\) ``sign_tol`` \\(\\cdot\\max_t\\|x_t\\|\\).
    """

    samples: int = 12
    dim: int = 4
    width: int = 5
    basins: int = 25
    starts: int = 6
    pgd_steps: int = 3000
    value_tol: float = 1e-6
    segment_points: int = 101
    segment_tol: float = 1e-12
    sign_tol: float = 1e-12
    stationary_tol: float = 1e-9
    QUICK = {"samples": 8, "width": 3, "basins": 4, "starts": 3}
    LIMITS: ClassVar[dict[str, str]] = {"samples": ">= 1", "dim": ">= 1", "width": ">= 1", "basins": ">= 1",
                                        "starts": ">= 2", "pgd_steps": ">= 1", "value_tol": "> 0",
                                        "segment_points": ">= 3", "segment_tol": ">= 0", "sign_tol": ">= 0",
                                        "stationary_tol": "> 0"}


def network_loss(W: np.ndarray, v: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The squared loss of two-layer ReLU nets, \(\frac1m\sum_t(\sum_i v_i[\langle w_i, x_t\rangle]_+ - y_t)^2\).

    Args:
        W: first layers ``(..., n, d)``.
        v: output weights ``(..., n)``.
        X: data ``(m, d)``.
        y: targets ``(m,)``.

    Returns:
        The loss per leading index.
    """
    hidden = np.maximum(W @ X.T, 0.0)  # (..., n, m)
    return np.mean((np.einsum("...n,...nm->...m", v, hidden) - y) ** 2, axis=-1)


def to_network(U: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Map \(u_i = |v_i| w_i\) back to the network: \(w_i = u_i/\|u_i\|\), \(v_i = b_i\|u_i\|\).

    A zero \(u_i\) gets \(v_i = 0\) and \(w_i = 0\) (the neuron contributes nothing either way).

    Args:
        U: rows \(u_i\), shape ``(..., n, d)``.
        b: output signs ``(n,)``.

    Returns:
        ``(W, v)`` of shapes ``(..., n, d)`` and ``(..., n)``.
    """
    norm = np.linalg.norm(U, axis=-1)
    safe = np.where(norm > 0, norm, 1.0)
    return U / safe[..., None], b * norm


def _interior_start(A: np.ndarray, X: np.ndarray, rng) -> np.ndarray:
    """A random interior point of the cell in u-space: per neuron, a random point projected on
    its cone plus a random positive multiple of the LP's interior direction."""
    rows = []
    for a in A.astype(np.float64):
        direction = interior_margin(a, X)[1]
        rows.append(project_cone(rng.standard_normal(X.shape[1]), a[:, None] * X)
                    + rng.uniform(0.1, 1.0) * direction)
    return np.stack(rows)


def _segment(Ua: np.ndarray, Ub: np.ndarray, A: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray,
             points: int) -> tuple[float, float]:
    """Along the u-segment from Ua to Ub mapped to (W, v): the largest network loss above the larger
    end loss, and the largest sign violation -a_it <w_i, x_t> (relative to max ||x_t||)."""
    t = np.linspace(0.0, 1.0, points)[:, None, None]
    W, v = to_network((1 - t) * Ua + t * Ub, b)
    losses = network_loss(W, v, X, y)
    ends = max(losses[0], losses[-1])
    excess = float((losses - ends).max()) / max(1.0, float(ends))
    violation = float(np.maximum(-(A[None] * (W @ X.T)), 0.0).max()) / float(np.linalg.norm(X, axis=1).max())
    return excess, violation


def stationarity(U: np.ndarray, A: np.ndarray, b: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    r"""The projected-gradient norm \(\|U - P(U - s\nabla)\|/s\) of the SS-L1 program at ``U``.

    \(P\) projects each row on its cone \(\{u : a_{it}\langle u, x_t\rangle \ge 0\}\) and \(s = 1/\)
    the gradient's Lipschitz constant; it vanishes exactly at the minimisers of the convex
    program.

    Args:
        U: the point, rows \(u_i\) ``(n, d)``.
        A: the activation signs ``(n, m)``.
        b: the output signs ``(n,)``.
        X: data ``(m, d)``.
        y: targets ``(m,)``.

    Returns:
        The norm (0 at a minimiser).
    """
    m = len(y)
    coef = (A > 0) * b[:, None]
    resid = ((U @ X.T) * coef).sum(0) - y
    grad = (2.0 / m) * (coef * resid) @ X
    G = (coef.T[:, :, None] * X[:, None, :]).reshape(m, -1)
    step = 1.0 / max((2.0 / m) * np.linalg.norm(G, 2) ** 2, 1e-300)
    moved = np.stack([project_cone(U[i] - step * grad[i], A[i][:, None] * X) for i in range(len(b))])
    return float(np.linalg.norm(U - moved) / step)


def measure(p: OracleParams) -> Measurement:
    """Per random basin: the certified value, independent descents from the draw's point and from
    random interior points, and the network loss along two mapped segments.

    Args:
        p: the parameters.

    Returns:
        The measurement: one row per basin with the hypothesis column ``interior_margin``
        (smallest |pre-activation| or |v_i| of the draw), the identification self-check
        (``pattern_matches``, ``start_loss_gap``), the certified value and status, the range of
        the descents' ends, and the segments' largest excess and sign violation.
    """
    rng = check_rng(p.seed)
    X = rng.standard_normal((p.samples, p.dim))
    y = rng.standard_normal(p.samples)
    solver = BasinSolver(X, y)
    rows = []
    for k in progress(range(p.basins), "basins"):
        W, v = draw_init(1, p.width, p.dim, "gaussian", rng)
        W, v = W[0], v[0]
        margin = float(min(np.abs(W @ X.T).min(), np.abs(v).min()))
        pat = basin_of(W, v, X)
        A, b = pat.A.astype(np.float64), pat.b.astype(np.float64)
        res = solver.value(pat, check_empty=False)
        own = np.abs(v)[:, None] * W
        starts = [own] + [_interior_start(A, X, rng) for _ in range(p.starts - 1)]
        runs = [projected_descent(pat, X, y, steps=p.pgd_steps, start=U) for U in starts]
        ends = [value for value, _ in runs]
        scale = max(1.0, abs(res.value))
        above = [stationarity(U_end, A, b, X, y) for value, U_end in runs if value > res.value + p.value_tol * scale]
        W_back, v_back = to_network(own, b)
        u_loss = float(np.mean((((own @ X.T) * (A > 0)).T @ b - y) ** 2))  # the SS-L1 objective in u
        seg_start = _segment(starts[0], starts[1], A, b, X, y, p.segment_points)
        seg_min = _segment(starts[1], np.abs(res.v)[:, None] * res.W, A, b, X, y, p.segment_points)
        rows.append({"basin": k, "interior_margin": margin,
                     "pattern_matches": bool((np.sign(W @ X.T) == A).all() and (np.sign(v) == b).all()),
                     "start_loss_gap": abs(float(network_loss(W_back, v_back, X, y)) - u_loss),
                     "value": res.value, "status": res.status, "descents": len(ends),
                     "descent_min": float(min(ends)), "descent_max": float(max(ends)),
                     "unconverged": len(above), "stationary_above": int(sum(r <= p.stationary_tol for r in above)),
                     "largest_stationarity_above": float(max(above)) if above else 0.0,
                     "segment_excess": max(seg_start[0], seg_min[0]),
                     "segment_violation": max(seg_start[1], seg_min[1])})
    table = pd.DataFrame(rows)
    return Measurement(table, {"statuses": sorted(set(table["status"]))})


def judge(m: Measurement, p: OracleParams) -> Verdict:
    """Interior draws only: no independent descent ends below the certified value, and none stops
    (a stationary point of the cell's program) above it; the mapped segments stay in the closed
    cell below their larger end; the identification is consistent.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        The verdict.
    """
    table = m.table
    verdict = Verdict()
    interior = table["interior_margin"] > 0.0
    verdict.hypothesis("the draw lies in a cell interior (no zero pre-activation or output weight)",
                       f"{int(interior.sum())} of {len(table)} basins", "every basin", bool(interior.any()))
    ok = table[interior]
    names = ("no independent descent in the cell ends below the certified Bas (SS-A3, SS-L1)",
             "sublevel segments mapped to (W, v) stay in the closed cell and below their larger end (SS-L1)",
             "every descent that stops ends at the certified Bas: no stationary point above it in the cell (SS-L1)")
    if ok.empty:
        for name in names:
            verdict.not_covered(name, "all basins", "no draw lies in a cell interior")
        return verdict
    scale = np.maximum(1.0, ok["value"].abs())
    below = ((ok["value"] - ok["descent_min"]) / scale).max()
    runs = len(ok) * p.starts
    verdict.add(names[0], float(below), f"<= {p.value_tol:g}", p.value_tol, float(below) <= p.value_tol,
                note=f"{len(ok)} basins x {p.starts} descents (the draw's own point and random interior points), "
                     f"accelerated projected gradient with NNLS cone projections, {p.pgd_steps} steps (separate "
                     f"code from the KKT-certified QP); measured: the largest (Bas - end) / max(1, Bas)",
                kind="evidence")
    unconverged, stationary = int(ok["unconverged"].sum()), int(ok["stationary_above"].sum())
    reached = runs - unconverged
    verdict.add(names[2], f"{reached} of {reached + stationary} stopped descents at Bas", "all", p.value_tol,
                reached > 0 and stationary == 0,
                note=f"{unconverged} of {runs} descents ended above Bas + {p.value_tol:g} max(1, Bas), "
                     f"{stationary} of them stationary (projected-gradient norm <= {p.stationary_tol:g}), the others "
                     f"still moving when their {p.pgd_steps} steps ran out (largest norm "
                     f"{float(ok['largest_stationarity_above'].max()):.2e}): they do not decide",
                kind="evidence")
    excess, violation = float(ok["segment_excess"].max()), float(ok["segment_violation"].max())
    verdict.add(names[1], [excess, violation], [0.0, 0.0], p.segment_tol,
                excess <= p.segment_tol and violation <= p.sign_tol,
                note=f"{p.segment_points} points per segment (start to start, start to the QP minimiser), "
                     "evaluated by a NumPy forward pass of the ReLU net; measured: [largest loss above the "
                     "larger end (relative), largest sign violation -a_it <w_i, x_t> / max ||x_t||]; sampled "
                     "points, not a proof", kind="evidence")
    mism = int((~ok["pattern_matches"].astype(bool)).sum())
    gap0 = float(ok["start_loss_gap"].max())
    verdict.add("identification (SS-A2): the draw has the signs of its pattern and its network loss equals "
                "the u-space objective", [mism, gap0], [0, 0.0], p.segment_tol,
                mism == 0 and gap0 <= p.segment_tol * max(1.0, float(ok["value"].abs().max())),
                note="an identity of basin_of and of the reformulation u_i = |v_i| w_i", kind="consistency")
    statuses = m.summary["statuses"]
    verdict.add("every QP certified optimal", statuses, ["optimal"], None, set(statuses) == {"optimal"},
                kind="consistency")
    return verdict


def draw(m: Measurement, p: OracleParams) -> dict:
    """The certified value against the range of the independent descents' ends, per basin.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters it was measured with.

    Returns:
        ``{"values": figure}``.
    """
    table = m.table
    fig, (ax,) = figure()
    ax.errorbar(table["value"], 0.5 * (table["descent_min"] + table["descent_max"]),
                yerr=0.5 * (table["descent_max"] - table["descent_min"]), fmt="o", ms=3)
    lim = float(table[["value", "descent_max"]].max().max())
    ax.plot([0, lim], [0, lim], "k--", lw=1)
    ax.set(xlabel="certified Bas (QP)", ylabel="ends of the independent descents",
           title=f"SS-L1: {p.starts} descents per basin")
    return {"values": fig}


safran_shamir_basin_oracle = experiment(
    "safran-shamir-basin-oracle", source=SOURCE_003 + ", Lemma 1 and the basin computations",
    claim="SS-L1: every nonempty sign cell is a basin; independent descents from interior points end at "
          "the certified QP value, and mapped sublevel segments stay in the cell",
    params=OracleParams, judge=judge, draw=draw)(measure)
