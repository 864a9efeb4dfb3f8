"""Document 000 (Venturi, Bandeira & Bruna): intrinsic dimension and random features.

``vbb-intrinsic-dimension``: the numerical rank of [sigma(<v_k, x_j>)] equals the
polynomial formula *with* the constant term (VBB-P2.1, corrected) and grows like
min(J, K) for non-polynomial activations (VBB-T2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ...expressivity.intrinsic import intrinsic_rank, polynomial_dimension
from ...nets import poly
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict
from ._shared import SOURCE_000

POLYNOMIALS = {"z": (0.0, 1.0), "z2": (0.0, 0.0, 1.0), "z3": (0.0, 0.0, 0.0, 1.0),
               "z+z2": (0.0, 1.0, 1.0), "1+z2": (1.0, 0.0, 1.0), "z2+z3": (0.0, 0.0, 1.0, 1.0)}
"""The polynomial activations of CLAIMS.md VBB-P2.1 by name (coefficients a_0, a_1, ...)."""


@dataclass(frozen=True)
class IntrinsicParams(Params):
    """Parameters of ``vbb-intrinsic-dimension``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        polynomials: names of POLYNOMIALS tested.
        dims: input dimensions n.
        J: samples of the polynomial filter matrices (J >> formula).
        K: directions of the polynomial filter matrices (K >> formula).
        activations: non-polynomial activations.
        n_nonpoly: their input dimension.
        sizes: J = K sizes of the growth check.
        min_frac: the non-polynomial rank must be >= min_frac * min(J, K) at every size.
        policy: rank policy (press: machine-precision threshold; relative: tau * s_max).
        tau: relative threshold of the ``relative`` policy.
        oversample: P2.1 needs J, K >> the formula: a polynomial row is covered when
            J >= oversample * formula and K >= oversample * formula.
        gap_required: a rank is numerically decided when its gap ratio (last kept / first
            dropped singular value) is >= gap_required; undecided ranks are not covered.
    """

    polynomials: tuple[str, ...] = tuple(POLYNOMIALS)
    dims: tuple[int, ...] = (2, 3, 4)
    J: int = 2000
    K: int = 500
    activations: tuple[str, ...] = ("relu", "tanh", "sigmoid", "softplus")
    n_nonpoly: int = 5
    sizes: tuple[int, ...] = (50, 100, 200, 400)
    min_frac: float = 0.95
    policy: str = "press"
    tau: float = 1e-8
    oversample: float = 2.0
    gap_required: float = 1e3
    QUICK = {"dims": (2, 3), "J": 300, "K": 120, "sizes": (40, 80, 120)}
    LIMITS: ClassVar[dict[str, str]] = {
        "polynomials": "nonempty, one of " + "|".join(POLYNOMIALS), "dims": "nonempty, >= 1",
        "J": ">= 1", "K": ">= 1", "activations": "nonempty, one of relu|tanh|sigmoid|softplus|elu|"
        "leaky_relu|exp|expm1|smoothed_relu|requ", "n_nonpoly": ">= 1", "sizes": "nonempty, >= 1",
        "min_frac": "in [0, 1]", "policy": "one of press|relative|gap", "tau": "in [0, 1]",
        "oversample": ">= 1", "gap_required": ">= 1"}


def measure(p: IntrinsicParams) -> Measurement:
    """Numerical ranks of the polynomial filter matrices, and of J = K matrices of growing size.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`: one row per filter matrix (rank, formulas,
        gap ratio); the growth ranks and rank thresholds in the summary.
    """
    rows, thresholds = [], []
    kw = {"policy": p.policy, "tau": p.tau}
    seed = p.seed
    for name in progress(p.polynomials, "polynomials"):
        coeffs = POLYNOMIALS[name]
        for n in p.dims:
            seed += 1
            r = intrinsic_rank(poly(coeffs, name=name), n, p.J, p.K, seed=seed, **kw)
            corrected = polynomial_dimension(coeffs, n)
            printed = polynomial_dimension(coeffs, n, include_constant=False)
            rows.append({"activation": name, "n": n, "J": p.J, "K": p.K, "rank": r.rank.count,
                         "formula": corrected, "seed_formula": printed,
                         "gap_ratio": r.rank.gap_ratio, "kind": "polynomial"})
            thresholds.append(float(r.rank.threshold))
    growth = {}
    for name in progress(tuple(p.activations) + ("z2",), "growth"):
        act = poly(POLYNOMIALS[name], name=name) if name in POLYNOMIALS else name
        ranks = []
        for s in p.sizes:
            seed += 1
            r = intrinsic_rank(act, p.n_nonpoly, s, s, seed=seed, **kw)
            ranks.append(r.rank.count)
            rows.append({"activation": name, "n": p.n_nonpoly, "J": s, "K": s,
                         "rank": r.rank.count, "gap_ratio": r.rank.gap_ratio,
                         "kind": "polynomial" if name in POLYNOMIALS else "non-polynomial",
                         "formula": polynomial_dimension(POLYNOMIALS[name], p.n_nonpoly)
                         if name in POLYNOMIALS else None})
        growth[name] = ranks
    table = pd.DataFrame(rows)
    return Measurement(table, {"growth": {k: list(v) for k, v in growth.items()}, "policy": p.policy,
                               "rank_thresholds": thresholds})


def judge(m: Measurement, p: IntrinsicParams) -> Verdict:
    """Polynomial ranks = the corrected formula (the seed's misses the constant); growth like min(J, K).

    Hypotheses per row: the rank is numerically decided (gap ratio >= gap_required); P2.1 rows
    have J, K >= oversample * formula (J, K >> formula); T2.1 growth rows of a non-polynomial
    sigma have n >= 2 (T2.2: n > 1; with n = 1 a homogeneous sigma spans 2 dimensions).

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    df, verdict = m.table, Verdict()
    n_poly = len(p.polynomials) * len(p.dims)
    decided = df["gap_ratio"] >= p.gap_required
    verdict.hypothesis(f"ranks numerically decided (gap ratio >= {p.gap_required:g})",
                       f"{int(decided.sum())} of {len(df)} matrices", "all", bool(decided.any()),
                       note=f"min gap ratio {df['gap_ratio'].min():.3g}; undecided ranks left out")
    first = df.iloc[:n_poly]
    formulas = [polynomial_dimension(POLYNOMIALS[a], int(n)) for a, n in zip(first["activation"], first["n"],
                                                                             strict=True)]
    big = (first["J"] >= p.oversample * np.array(formulas)) & (first["K"] >= p.oversample * np.array(formulas))
    if n_poly:
        verdict.hypothesis(f"P2.1: J, K >= {p.oversample:g} x formula (J, K >> formula)",
                           f"{int(big.sum())} of {n_poly} polynomial matrices", "all", bool(big.any()),
                           note="matrices with too few samples or directions left out")
    for (name, n, rank, gap_ratio, ok_size, ok_rank), threshold in zip(
            zip(first["activation"].tolist(), first["n"].tolist(), first["rank"].tolist(),
                first["gap_ratio"].tolist(), big.tolist(), decided.iloc[:n_poly].tolist(), strict=True),
            m.summary["rank_thresholds"], strict=True):
        coeffs = POLYNOMIALS[name]
        corrected = polynomial_dimension(coeffs, n)
        printed = polynomial_dimension(coeffs, n, include_constant=False)
        check = f"{name}, n = {n}: rank vs sum_(i>=0, a_i != 0) C(n+i-1, i)"
        if not (ok_size and ok_rank):
            verdict.not_covered(check, corrected, f"J, K < {p.oversample:g} x formula or rank undecided "
                                                  f"(gap ratio {gap_ratio:.3g})")
            continue
        verdict.add(check, rank, corrected, threshold, rank == corrected,
                    note=f"gap ratio {gap_ratio:.3g}", kind="evidence")
        if coeffs[0] != 0:
            verdict.add(f"{name}, n = {n}: the seed's sum from i = 1 misses the constant",
                        {"measured": rank, "seed_formula": printed},
                        f"measured = seed formula + 1 = {printed + 1}", None,
                        rank == printed + 1, kind="erratum",
                        note="CLAIMS.md VBB-P2.1: the bound must start at i = 0")
    growth_rows = df.iloc[n_poly:]
    for i, name in enumerate(tuple(p.activations) + ("z2",)):
        block = growth_rows.iloc[i * len(p.sizes):(i + 1) * len(p.sizes)]
        ok = block["gap_ratio"] >= p.gap_required
        if name not in POLYNOMIALS:
            ok &= block["n"] >= 2
        sizes, ranks = block["J"][ok].astype(int).tolist(), block["rank"][ok].astype(int).tolist()
        if name in POLYNOMIALS:
            formula = polynomial_dimension(POLYNOMIALS[name], p.n_nonpoly)
            check = f"{name}, n = {p.n_nonpoly}: rank saturates at the formula as J = K grows"
            expect = [min(formula, s) for s in sizes]
        else:
            check = f"{name}, n = {p.n_nonpoly}: rank >= {p.min_frac} min(J, K) at every size"
            expect = [int(np.ceil(p.min_frac * s)) for s in sizes]
        if not sizes:
            verdict.not_covered(check, "T2.1", "no size with a decided rank (and n >= 2 for non-polynomial sigma)")
            continue
        left_out = f"; {int((~ok).sum())} sizes left out (undecided rank or n < 2)" if (~ok).any() else ""
        holds = ranks == expect if name in POLYNOMIALS else all(r >= q for r, q in zip(ranks, expect, strict=True))
        verdict.add(check, ranks, expect, None, holds, note=f"J = K = {sizes}{left_out}", kind="evidence")
    return verdict


def draw(m: Measurement, p: IntrinsicParams) -> dict:
    """Rank against J = K per activation; polynomial ranks against both formulas.

    Args:
        m: the measurement of :func:`measure`.
        p: the parameters.

    Returns:
        The figures by name: ``"intrinsic_dimension"``.
    """
    table, growth = m.table, m.summary["growth"]
    fig, (ax1, ax2) = figure(2, width=4.5)
    for name, ranks in growth.items():
        ax1.plot(p.sizes, ranks, "o-", label=name)
    ax1.plot(p.sizes, p.sizes, "k:", lw=0.8, label="min(J, K)")
    ax1.set(xscale="log", yscale="log", xlabel="J = K", ylabel="numerical rank",
            title=f"growth (n = {p.n_nonpoly})")
    ax1.legend(fontsize=7)
    poly_rows = table[table.kind.eq("polynomial") & table.J.eq(p.J)]
    ax2.scatter(poly_rows.formula, poly_rows["rank"], c="C0", label="with constant (corrected)")
    ax2.scatter(poly_rows.seed_formula, poly_rows["rank"], marker="x", c="C3",
                label="seed's sum from i = 1")
    top = float(poly_rows["rank"].max()) if len(poly_rows) else 1.0
    ax2.plot([0, top], [0, top], "k:", lw=0.8)
    ax2.set(xlabel="formula", ylabel="measured rank", title="polynomials: rank vs formula")
    ax2.legend(fontsize=7)
    return {"intrinsic_dimension": fig}


vbb_intrinsic_dimension = experiment(
    "vbb-intrinsic-dimension", source=SOURCE_000 + ", Prop. 2.1 and Thm 2.1",
    claim="VBB-P2.1/VBB-T2.1: rank [sigma(<v_k,x_j>)] saturates at sum_{i>=0, a_i != 0} "
          "C(n+i-1, i) for polynomials (with the constant term) and grows like min(J, K) "
          "otherwise",
    params=IntrinsicParams, judge=judge, draw=draw)(measure)
