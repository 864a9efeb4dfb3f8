"""Document 004 (Nguyen's thesis), chapter 3: shift independence and bias span.

``nguyen-shift-rank``: ReLU, leaky-ReLU and ELU are not combinations of their own shifts
(NG-L3.4.3: rank [sigma(x_g - a_i)] = p + 1) and their bias moves span R^n
(NG-L3.4.11: rank [sigma(v + b_s 1)] = n); polynomials of degree d stop at d + 1.

Hypotheses gated per draw from the table: the activation is one the lemma covers (class
"covered"; probes are reported only), and the sampled shifts a_i (or entries v_i) are
distinct (``min_separation`` > 0). A draw outside them is not covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from ...expressivity.shift import HIGH_PRECISION_DPS, bias_span_rank, polynomial_shift_rank, shift_rank
from ...nets import get_activation, poly
from ...record import Measurement
from ..common import figure, progress
from ..params import Params
from ..registry import experiment
from ..result import Verdict

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 3"


POLY_ACTIVATIONS = {"square": (0.0, 0.0, 1.0), "cube": (0.0, 0.0, 0.0, 1.0),
                    "1+2z+z3": (1.0, 2.0, 0.0, 1.0)}
"""Polynomial controls by name (coefficients a_0, a_1, ...)."""


@dataclass(frozen=True)
class ShiftParams(Params):
    """Parameters of ``nguyen-shift-rank``.

    Attributes:
        seed: the seed of every random draw of the experiment (the base :class:`Params` field).
        activations: activations covered by NG-L3.4.3 (rank must be full).
        polynomials: polynomial controls (names of POLY_ACTIVATIONS; rank deg + 1).
        probes: activations the lemma does not cover, reported only.
        p: shifts besides a_0 = 0 (matrix has p + 1 columns).
        n: length of v in the bias-span check.
        n_biases: sampled biases b_s (>= n + 1; one in every gap between the -v_i).
        draws: random draws of shifts / v per activation.
        shift_lim: shifts uniform in [-shift_lim, shift_lim].
        x_lim: the grid of x is on [-x_lim, x_lim].
        grid_points: points of that grid.
        tau: relative singular-value threshold of the rank.
        gap_required: a rank decided across a smaller singular-value ratio is reported as
            ambiguous (reported only: a covered activation's draw whose float64 rank is short
            of full is decided again with HIGH_PRECISION_DPS digits, a polynomial's must be
            exactly degree + 1).
    """

    activations: tuple[str, ...] = ("relu", "leaky_relu", "elu")
    polynomials: tuple[str, ...] = tuple(POLY_ACTIVATIONS)
    probes: tuple[str, ...] = ("softplus", "tanh")
    p: int = 30
    n: int = 40
    n_biases: int = 200
    draws: int = 100
    shift_lim: float = 3.0
    x_lim: float = 6.0
    grid_points: int = 2001
    tau: float = 1e-10
    gap_required: float = 1e3
    QUICK = {"draws": 4, "grid_points": 801}
    LIMITS: ClassVar[dict[str, str]] = {
        "activations": "nonempty, one of relu|leaky_relu|elu", "polynomials":
        "one of " + "|".join(POLY_ACTIVATIONS), "probes": "one of softplus|tanh|sigmoid|exp|expm1",
        "p": ">= 1", "n": ">= 1", "n_biases": ">= 2", "draws": ">= 1", "shift_lim": "> 0",
        "x_lim": "> 0", "grid_points": ">= 2", "tau": "in [0, 1]", "gap_required": ">= 1"}


def _kinds(p: ShiftParams) -> list[tuple[str, str]]:
    """(activation, class) pairs: covered by the lemmas, polynomial controls, probes."""
    return ([(a, "covered") for a in p.activations] + [(a, "polynomial") for a in p.polynomials]
            + [(a, "probe") for a in p.probes])


def measure(p: ShiftParams) -> Measurement:
    """Shift rank and bias-span rank of every activation in ``draws`` random draws.

    Args:
        p: the parameters.

    Returns:
        The :class:`~valleys.record.Measurement`, one row per (activation, matrix kind, draw) with its rank.
    """
    rows = []
    kinds = _kinds(p)
    for name, kind in progress(kinds, "activations"):
        act = poly(POLY_ACTIVATIONS[name], name=name) if kind == "polynomial" else get_activation(name)
        for d in range(p.draws):
            sr = shift_rank(act, p.p, seed=p.seed * 100_003 + 2 * d, shift_lim=p.shift_lim,
                            x_lim=p.x_lim, grid_points=p.grid_points, tau=p.tau,
                            gap_required=p.gap_required)
            br = bias_span_rank(act, p.n, p.n_biases, seed=p.seed * 100_003 + 2 * d + 1, tau=p.tau,
                                gap_required=p.gap_required)
            for r in (sr, br):
                rows.append(r.to_dict() | {"activation": name, "class": kind, "draw": d})
    table = pd.DataFrame(rows)
    probes = table[table["class"] == "probe"].groupby(["activation", "kind"])["rank"].mean()
    return Measurement(table,
                       {"probes_mean_rank": {f"{a}/{k}": float(v) for (a, k), v in probes.items()},
                        "note": "softplus and tanh are analytic: their shift matrices are full rank "
                                "in exact arithmetic but numerically ill-conditioned (probes only)"})


def judge(m: Measurement, p: ShiftParams) -> Verdict:
    """Full shift and bias-span ranks for the covered activations in every draw; degree + 1 for polynomials.

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        The :class:`~valleys.record.Verdict`.
    """
    table = m.table
    verdict = Verdict()
    distinct = table["min_separation"] > 0
    verdict.hypothesis("sampled shifts a_i / entries v_i distinct (NG-L3.4.3, NG-L3.4.11)",
                       f"{int(distinct.sum())} of {len(table)} draws", "min separation > 0", bool(distinct.any()),
                       note=f"smallest separation {table['min_separation'].min():.3g}")
    covered_act = table["class"] == "covered"
    verdict.hypothesis("activation satisfies Assumption 3.4.2 by NG-L3.4.3 (relu, leaky-relu, elu)",
                       f"{sorted(set(table.loc[covered_act, 'activation']))}", "at least one",
                       bool((covered_act & distinct).any()))
    for name, kind in _kinds(p):
        if kind == "probe":
            continue
        for which, size in (("shift", p.p + 1), ("bias_span", p.n)):
            mine = table[(table.activation == name) & (table.kind == which)]
            sub = mine[(mine["class"] == kind) & (mine["min_separation"] > 0)]
            expect = size if kind == "covered" else polynomial_shift_rank(act_degree(name), size)
            label = "p + 1" if which == "shift" else "n"
            if sub.empty:
                verdict.not_covered(f"{name}: {which} rank = {label if kind == 'covered' else expect} in every draw",
                                    expect, "no draw of this activation meets the lemma's hypotheses")
                continue
            hits = int((sub["rank"] == expect).sum())
            ambiguous = int(((sub["rank"] != expect) & sub.ambiguous).sum())
            if kind == "covered":
                # a float64 rank short of full is decided again with HIGH_PRECISION_DPS digits:
                # full there means the sampled functions are independent (float64 rounding
                # or the tau threshold hid it); a draw full at neither precision is a miss
                short = sub[sub["rank"] != expect]
                rescued = sum(v is True for v in short["full_hp"])
                misses = len(short) - rescued
                note = (f"{hits}/{len(sub)} draws full in float64 (tau {p.tau:g}); {rescued} more full "
                        f"at {HIGH_PRECISION_DPS} digits (sigma_min/sigma_max "
                        f"{_ratios(sub[sub['rank'] != expect])}; {ambiguous} of the float64 misses had a "
                        f"gap ratio < {p.gap_required:g}); smallest float64 gap ratio "
                        f"{sub.gap_ratio.min():.3g}")
                name_check = f"{name}: {which} rank = {label} in every draw (float64, else {HIGH_PRECISION_DPS} digits)"
            else:
                misses = int((sub["rank"] != expect).sum())
                note = (f"{hits}/{len(sub)} draws exactly {expect}; ranks {sorted(set(sub['rank']))}, "
                        f"smallest gap ratio {sub.gap_ratio.min():.3g}")
                name_check = f"{name}: {which} rank = {expect} in every draw"
            verdict.add(name_check, misses, 0, p.tau, misses == 0 and len(mine) == p.draws,
                        note=note + (f"; {len(mine) - len(sub)} draw(s) outside the hypotheses" if len(sub) < len(mine)
                                     else ""), kind="evidence")
    return verdict


def draw(m: Measurement, p: ShiftParams) -> dict:
    """Mean shift and bias-span rank per activation against full rank.

    Args:
        m: the measurement.
        p: the parameters it was measured with.

    Returns:
        Figures by name, the mean ranks against full rank.
    """
    table = m.table
    fig, axes = figure(2, width=4.5)
    for ax, which, size in zip(axes, ("shift", "bias_span"), (p.p + 1, p.n), strict=True):
        sub = table[table.kind == which].groupby("activation", sort=False)["rank"].mean()
        ax.bar(np.arange(len(sub)), sub.to_numpy(), color=["C0" if a in p.activations else
                                                           "C3" if a in p.polynomials else "0.6"
                                                           for a in sub.index])
        ax.axhline(size, color="k", ls=":", lw=0.8)
        ax.set_xticks(np.arange(len(sub)), sub.index, rotation=30, fontsize=7)
        ax.set(ylabel="mean rank", title=f"{which}: full = {size}")
    return {"ranks": fig}


nguyen_shift_rank = experiment(
    "nguyen-shift-rank", source=SOURCE_004 + ", Lemma 3.4.3 and Lemma 3.4.11",
    claim="NG-L3.4.3/NG-L3.4.11: rank [sigma(x - a_i)] = p + 1 and rank [sigma(v + b_s 1)] = n "
          "for relu, leaky-relu and elu in every draw; polynomials saturate at degree + 1",
    params=ShiftParams, judge=judge, draw=draw)(measure)


def _ratios(rows: pd.DataFrame) -> str:
    values = rows["sigma_ratio_hp"].dropna()
    return ", ".join(f"{v:.3g}" for v in values) if len(values) else "none recomputed"


def act_degree(name: str) -> int:
    """Degree of a polynomial control.

    Args:
        name: a key of ``POLY_ACTIVATIONS``.

    Returns:
        The polynomial's degree.
    """
    coeffs = np.trim_zeros(np.asarray(POLY_ACTIVATIONS[name]), "b")
    return len(coeffs) - 1
