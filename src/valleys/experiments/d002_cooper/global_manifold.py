"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

``cooper-global-manifold``: at zero-loss points, Hess L has exactly d - bn zero
eigenvalues (Coo18), rank J = bn and Hess = 2 J^T J.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch

from ..._validation import check_generator
from ...curvature.rank import matrix_rank, numerical_rank
from ...errors import InvalidParameterError
from ...literature.cooper2020 import equal_widths, fibre_minimum, global_manifold_dim, param_count
from ...record import Measurement
from ..common import ONE_OF_ACTIVATIONS, figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE, _data, _landscape, _parse, _prop61_dim_m


# ========================================================== cooper-global-manifold
@dataclass(frozen=True)
class GlobalManifoldParams(Params):
    """Parameters of ``cooper-global-manifold``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        shapes: ``"a:b:m:l:n"`` with m >= n (the last layer is solved exactly) and d > bn.
        seeds: random networks and data sets per shape.
        activation: activation of the nets.
        zero_tol: |lambda| <= zero_tol max|lambda| counts as a zero eigenvalue.
        gap_required: smallest accepted ratio (smallest positive) / (largest zero).
        loss_tol: the point is on M = L^{-1}(0) when L <= loss_tol.
        jacobian_tau: relative singular-value threshold of rank J (sqrt of zero_tol, since
            the eigenvalues of 2 J^T J are twice the squared singular values).
        hess_tol: relative tolerance of ||Hess - 2 J^T J|| / ||Hess||.
        init_scale: std of the N(0, init_scale^2) inner parameters p_I (strongly nonlinear
            features keep [Phi^T 1] well conditioned).
    """

    shapes: tuple[str, ...] = ("2:1:12:3:6", "3:2:10:3:5", "2:1:10:4:5", "3:1:16:3:8", "2:2:12:4:6")
    seeds: int = 10
    activation: str = "tanh"
    zero_tol: float = 1e-8
    gap_required: float = 1e6
    loss_tol: float = 1e-20
    jacobian_tau: float = 1e-4
    hess_tol: float = 1e-8
    init_scale: float = 1.0
    QUICK = {"shapes": ("2:1:8:3:4", "2:2:8:3:4", "2:1:8:4:4"), "seeds": 3}
    LIMITS: ClassVar[dict[str, str]] = {"shapes": "nonempty", "seeds": ">= 1",
                                        "activation": ONE_OF_ACTIVATIONS, "zero_tol": "in [0, 1]",
                                        "gap_required": ">= 1", "loss_tol": ">= 0",
                                        "jacobian_tau": "in [0, 1]", "hess_tol": ">= 0", "init_scale": "> 0"}

    def validate(self) -> None:
        """Every ``shapes`` entry must parse (``a:b:m:l:n``) before anything runs."""
        for spec in self.shapes:
            _parse(spec, "abmln")


def measure(p: GlobalManifoldParams) -> Measurement:
    """Reach M by solving the last layer exactly, then count zero Hessian eigenvalues.

    Args:
        p: the parameters.

    Returns:
        The measurement: the table of measured rows with its summary.

    Raises:
        InvalidParameterError: if a shape has m < n or d <= bn.
    """
    rows, examples = [], {}
    for s_idx, spec in enumerate(progress(p.shapes, "shapes")):
        a, b, m, depth, n = _parse(spec, "abmln")
        widths = equal_widths(a, b, m, depth)
        if m < n or param_count(widths) <= b * n:
            msg = f"Shapes of cooper-global-manifold need m >= n and d > bn. Got {spec!r}."
            raise InvalidParameterError(msg)
        for seed in range(p.seed, p.seed + p.seeds):
            X, Y = _data(a, b, n, 7 * seed + s_idx)
            land = _landscape(widths, p.activation, X, Y, seed=seed)
            rows.append(_manifold_row(land, p, spec, seed, n, b))
            examples.setdefault(spec, rows[-1].pop("_eig"))
    table = pd.DataFrame(rows)
    return Measurement(table, {"zero_tol": p.zero_tol, "gap_required": p.gap_required},
                       extras={"examples": examples})


def judge(m: Measurement, p: GlobalManifoldParams) -> Verdict:
    """Zero-eigenvalue count d - bn, rank J = bn, Hess = 2 J^T J and Prop 6.1's dim M.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    return _manifold_verdict(p, m.table)


def draw(m: Measurement, p: GlobalManifoldParams) -> dict:
    """The normalised Hessian spectra of the first point of each shape.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name.
    """
    return {"spectra": _fig_manifold(m.extras["examples"], p)}


run_global_manifold = experiment(
    "cooper-global-manifold", source=f"{SOURCE}, §4.1 (Coo18) and Prop 6.1 (dim M)",
    claim="COO-Coo18: at zero-loss points of nets with d > bn, Hess L has exactly d - bn "
          "zero eigenvalues and bn positive ones; rank J = bn; Hess = 2 J^T J",
    params=GlobalManifoldParams, judge=judge, draw=draw)(measure)


def _manifold_row(land, p, spec, seed, n, b) -> dict:
    start = p.init_scale * torch.randn(land.dim, generator=check_generator(seed), dtype=land.dtype)
    point = fibre_minimum(land, start)
    theta = point.theta
    H = land.hessian(theta)
    J = land.jacobian(theta)
    ev = torch.linalg.eigvalsh(H)
    r = numerical_rank(ev, tau=p.zero_tol, gap_required=p.gap_required, warn=False)
    rank_J = matrix_rank(J, tau=p.jacobian_tau, warn=False).count
    diff = float((H - 2 * J.T @ J).norm() / H.norm())
    return {"shape": spec, "seed": seed, "d": land.dim, "bn": b * n, "loss": point.loss,
            "expected_nullity": land.dim - b * n, "nullity": r.nullity, "n_positive": int((ev > r.threshold).sum()),
            "n_negative": int((ev < -r.threshold).sum()), "gap_ratio": r.gap_ratio,
            "rank_J": rank_J, "hess_vs_2JtJ": diff,
            "dim_M": global_manifold_dim(_widths_from(spec), n),
            "prop61_dim_M": _prop61_dim_m(*_parse(spec, "abmln")[:4], n), "_eig": ev}


def _widths_from(spec: str) -> tuple[int, ...]:
    a, b, m, depth, _ = _parse(spec, "abmln")
    return equal_widths(a, b, m, depth)


def _manifold_verdict(p, t: pd.DataFrame) -> Verdict:
    v = Verdict()
    covered = (t.d > t.bn) & (t.loss <= p.loss_tol)
    v.hypothesis("COO-Coo18: d > bn and the point lies on M = L^-1(0) (loss <= loss_tol)",
                 f"{int(covered.sum())} of {len(t)} points", "all", bool(covered.any()),
                 note=f"largest loss {float(t.loss.max()):.3g} (the least-squares last layer needs "
                      "m >= n); points outside are left out")
    if not covered.any():
        for name in ("COO-Coo18: exactly d - bn zero and bn positive Hessian eigenvalues",
                     "rank J = bn", "measured Hessian nullity = Prop 6.1's dim M polynomial"):
            v.not_covered(name, "all points", note="no point meets Coo18's hypotheses")
        return v
    t = t[covered]
    tot = len(t)
    ok = int(((t.nullity == t.expected_nullity) & (t.n_positive == t.bn)).sum())
    v.add("COO-Coo18: exactly d - bn zero and bn positive Hessian eigenvalues", f"{ok}/{tot}",
          f"{tot}/{tot}", p.zero_tol, ok == tot, f"relative zero threshold {p.zero_tol:g}", kind="evidence")
    gap = float(t.gap_ratio.min())
    v.add("spectral gap (smallest positive / largest zero)", gap, f">= {p.gap_required:g}",
          p.gap_required, gap >= p.gap_required, note="the zero count is decided across this gap",
          kind="consistency")
    okj = int((t.rank_J == t.bn).sum())
    v.add("rank J = bn", f"{okj}/{tot}", f"{tot}/{tot}", p.jacobian_tau, okj == tot, kind="evidence")
    diff = float(t.hess_vs_2JtJ.max())
    v.add("Hess L = 2 J^T J on M", diff, 0.0, p.hess_tol, diff <= p.hess_tol,
          note="an identity at zero residual", kind="consistency")
    okd = int((t.nullity == t.prop61_dim_M).sum())
    v.add("measured Hessian nullity = Prop 6.1's dim M polynomial (l-2)m^2+(a+b+l-1)m+b(1-n)",
          f"{okd}/{tot}", f"{tot}/{tot}", p.zero_tol, okd == tot and tot > 0,
          note="the polynomial is evaluated by its own code from (a, b, m, l, n)", kind="evidence")
    return v


def _fig_manifold(examples: dict, p):
    fig, (ax,) = figure(width=7)
    for spec, ev in examples.items():
        vals = np.sort(np.abs(ev.numpy()))[::-1]
        ax.semilogy(np.maximum(vals / vals[0], 1e-300), ".", ms=3, label=spec)
    ax.axhline(p.zero_tol, color="k", ls="--", label="zero threshold")
    ax.set_xlabel("index (descending |lambda|)")
    ax.set_ylabel("|lambda| / max|lambda|")
    ax.set_title("Hessian at zero-loss points: bn nonzero, d - bn zero")
    ax.legend(fontsize=7)
    return fig
