"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

``cooper-eigencounts``: COO-P6.2, the zero Hessian eigenvalues by locus for equal hidden widths
m in {n + 1, 2n, 4n}: d - b on the core C (COO-T3.2), d - bn on the global minima M (Coo18),
at least (m + 1 - n) b at the other critical points (COO-C5.18; measured here at star points
outside C), and so a number of nonzero eigenvalues (the codimension) that does not depend on m
on C and on M, while it grows with m at star points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd
import torch

from ..._validation import check_generator
from ...curvature.rank import numerical_rank
from ...literature.cooper2020 import core_components, equal_widths, fibre_minimum, sample_locus, star_components
from ...nets import get_activation
from ...record import Measurement
from ..common import ONE_OF_ACTIVATIONS, figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE, _data, _landscape

LOCI = ("C", "M", "star")
"""Kinds of point: core points, zero-loss points, star points outside the core."""


@dataclass(frozen=True)
class EigencountsParams(Params):
    """Parameters of ``cooper-eigencounts``.

    Sizes: CLAIMS.md asks for m in {n + 1, 2n, 4n}; the full preset uses n = 5 (d up to 942 at
    m = 20, b = 2) so that the dense Hessians stay within minutes.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        n: number of samples.
        in_dim: input dimension a.
        outputs: output dimensions b.
        depth: number of affine layers l (the core needs l >= 4).
        width_factors: hidden widths m as ``0`` for n + 1, else factor * n.
        activation: hidden activation (smooth, sigma(0) = 0 for COO-T3.2).
        points: points per locus kind and (b, m).
        zero_tol: |lambda| <= zero_tol max|lambda| counts as zero.
        crit_tol: a point is critical when ||grad L|| <= crit_tol (1 + ||y||^2).
        loss_tol: a point lies on M when L <= loss_tol (1 + ||y||^2).
        init_scale: standard deviation of the random coordinates.
    """

    n: int = 5
    in_dim: int = 2
    outputs: tuple[int, ...] = (1, 2)
    depth: int = 4
    width_factors: tuple[int, ...] = (0, 2, 4)
    activation: str = "tanh"
    points: int = 2
    zero_tol: float = 1e-8
    crit_tol: float = 1e-10
    loss_tol: float = 1e-20
    init_scale: float = 1.0
    QUICK = {"n": 3, "outputs": (1,), "points": 2}
    LIMITS: ClassVar[dict[str, str]] = {
        "n": ">= 1", "in_dim": ">= 1", "outputs": "nonempty, >= 1", "depth": ">= 3", "width_factors": "nonempty, >= 0",
        "activation": ONE_OF_ACTIVATIONS, "points": ">= 1", "zero_tol": "in [0, 1]", "crit_tol": ">= 0",
        "loss_tol": ">= 0", "init_scale": "> 0"}


def _row(land, theta, kind: str, p: EigencountsParams) -> dict:
    """The Hessian's eigenvalue counts and the hypothesis quantities at one point."""
    ev = torch.linalg.eigvalsh(land.hessian(theta))
    r = numerical_rank(ev, tau=p.zero_tol, warn=False)
    ysq = float((land.targets() ** 2).sum())
    return {"kind": kind, "d": land.dim, "nullity": r.nullity, "n_positive": int((ev > r.threshold).sum()),
            "n_negative": int((ev < -r.threshold).sum()), "codim": land.dim - r.nullity,
            "loss_normalised": float(land.loss(theta)) / (1 + ysq),
            "grad_normalised": float(land.grad(theta).norm()) / (1 + ysq)}


def measure(p: EigencountsParams) -> Measurement:
    """Hessian spectra at core, zero-loss and star points for each output dimension and width.

    Args:
        p: the parameters.

    Returns:
        One row per point with its kind, b, m, d, the eigenvalue counts and the hypothesis
        quantities (``depth``, ``sigma0``, ``smooth``, ``grad_normalised``, ``loss_normalised``).
    """
    sigma = get_activation(p.activation)
    rows = []
    for b in p.outputs:
        for factor in progress(p.width_factors, f"cooper-eigencounts (b = {b})"):
            m = p.n + 1 if factor == 0 else factor * p.n
            X, Y = _data(p.in_dim, b, p.n, p.seed + 11 * b + m)
            land = _landscape(equal_widths(p.in_dim, b, m, p.depth), p.activation, X, Y, seed=p.seed)
            base = {"b": b, "m": m, "n": p.n, "depth": p.depth, "sigma0": float(sigma.value_at_zero),
                    "smooth": bool(sigma.smoothness >= 2)}
            gen = check_generator(p.seed + 97 * b + m)
            cores = core_components(p.depth, 2) if p.depth >= 4 else []
            stars = star_components(p.depth)
            for k in range(p.points):
                if cores:
                    loc = cores[k % len(cores)]
                    th = sample_locus(land, loc, 1, scale=p.init_scale, seed=gen)[0]
                    rows.append({**base, **_row(land, th, "C", p), "component": loc.name})
                start = p.init_scale * torch.randn(land.dim, generator=gen, dtype=land.dtype)
                rows.append({**base, **_row(land, fibre_minimum(land, start).theta, "M", p), "component": "M"})
                loc = stars[k % len(stars)]
                th = sample_locus(land, loc, 1, scale=p.init_scale, seed=gen)[0]
                rows.append({**base, **_row(land, th, "star", p), "component": loc.name})
    return Measurement(pd.DataFrame(rows), {"zero_tol": p.zero_tol})


def judge(m: Measurement, p: EigencountsParams) -> Verdict:
    """The three counts of COO-P6.2 on the points that meet their hypotheses, and the codimension
    across m.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The verdict.
    """
    t, v = m.table, Verdict()
    crit = t.grad_normalised <= p.crit_tol
    v.hypothesis("the points are critical: ||grad L|| / (1 + ||y||^2) <= crit_tol", f"{int(crit.sum())} of {len(t)}",
                 "all", bool(crit.any()), note=f"max {float(t.grad_normalised.max()):.3g}; others left out")
    core = t[crit & (t.kind == "C") & (t.depth >= 4) & (t.sigma0 == 0) & t.smooth.astype(bool)]
    v.hypothesis("COO-T3.2 on C: depth >= 4, sigma smooth with sigma(0) = 0",
                 f"{len(core)} of {int((t.kind == 'C').sum())} core points", "all", len(core) > 0)
    _count(v, core, "COO-P6.2 on C: d - b zero eigenvalues (b nonzero), the same for every m",
           core.b if len(core) else None, p)
    on_m = t[crit & (t.kind == "M") & (t.loss_normalised <= p.loss_tol) & (t.d > t.b * t.n) & (t.m >= t.n)]
    v.hypothesis("Coo18 on M: d > bn, m_{l-1} >= n, L = 0", f"{len(on_m)} of {int((t.kind == 'M').sum())} points",
                 "all", len(on_m) > 0)
    _count(v, on_m, "COO-P6.2 on M: d - bn zero eigenvalues (bn nonzero), the same for every m",
           on_m.b * on_m.n if len(on_m) else None, p)
    other = t[crit & (t.kind == "star") & (t.m > t.n)]
    v.hypothesis("COO-P6.2 elsewhere: critical points off C and M with m > n", f"{len(other)} of "
                 f"{int((t.kind == 'star').sum())} star points", "all", len(other) > 0)
    name = "COO-P6.2 elsewhere: >= (m + 1 - n) b zero eigenvalues at critical points off C and M"
    if other.empty:
        v.not_covered(name, ">= (m + 1 - n) b", "no covered point")
    else:
        bound = (other.m + 1 - other.n) * other.b
        ok = int((other.nullity >= bound).sum())
        codim = other.groupby("m").codim.max().to_dict()
        v.add(name, f"{ok}/{len(other)}", f"{len(other)}/{len(other)}", p.zero_tol, ok == len(other),
              f"star points outside C ({int((other.n_negative > 0).sum())} indefinite: the bound is applied as "
              f"the source states it, for every critical point); nonzero eigenvalues by m {codim} (they grow "
              "with m, unlike C and M)", kind="evidence")
    return v


def _count(v: Verdict, rows: pd.DataFrame, name: str, expected_codim, p: EigencountsParams) -> None:
    """Exact codimension d - nullity = expected at every covered point."""
    if rows.empty:
        v.not_covered(name, "exact", "no covered point")
        return
    ok = int((rows.codim == expected_codim).sum())
    by_m = rows.groupby(["b", "m"]).codim.unique().apply(lambda s: sorted(int(x) for x in s)).to_dict()
    v.add(name, f"{ok}/{len(rows)}", f"{len(rows)}/{len(rows)}", p.zero_tol, ok == len(rows),
          f"nonzero eigenvalues by (b, m): {by_m}; dense autodiff Hessians, relative zero threshold "
          f"{p.zero_tol:g}", kind="evidence")


def draw(m: Measurement, p: EigencountsParams) -> dict:
    """The number of nonzero Hessian eigenvalues against m, per locus.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        ``{"codimension": figure}``.
    """
    t = m.table
    fig, (ax,) = figure(width=7)
    for (kind, b), s in t.groupby(["kind", "b"]):
        ax.plot(s.m, s.codim, "o", label=f"{kind}, b = {b}")
    ax.set(xlabel="hidden width m", ylabel="nonzero Hessian eigenvalues (d - nullity)",
           title="COO-P6.2: the codimension of C and M does not grow with m", yscale="symlog")
    ax.legend(fontsize=7)
    return {"codimension": fig}


run_eigencounts = experiment(
    "cooper-eigencounts", source=f"{SOURCE}, Proposition 6.2",
    claim="COO-P6.2: zero Hessian eigenvalues d - b on C, d - bn on M, >= (m + 1 - n) b at other "
          "critical points; the codimension of C and M is constant in m",
    params=EigencountsParams, judge=judge, draw=draw)(measure)
