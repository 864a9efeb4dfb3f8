"""Can the judges of document 000 (Venturi, Bandeira & Bruna) fail? Doctored tables (see ``judges.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from judges import assert_doctor_breaks_the_verdict


def _on_rows(table, rows, **columns):
    """``table`` with ``columns`` (name -> value or function of the table) set on ``rows`` only."""
    table = table.copy()
    for col, value in columns.items():
        table.loc[rows, col] = value(table) if callable(value) else value
    return table


def _a4(t):
    return t["part"] == "A4"


def _excess_rises_at_the_largest_width(t, p):
    """The median excess at the largest width 1 % above the one before it."""
    med = t.groupby("p").excess.median()
    last = t["p"] == med.index[-1]
    return t.assign(excess=np.where(last, t["excess"] * 1.01 * med.iloc[-2] / med.iloc[-1], t["excess"]))


def _growth_rows(t, p, name):
    """Rows of the J = K growth part for activation ``name``."""
    first = len(p.polynomials) * len(p.dims)
    return t.index[(t.index >= first) & (t["activation"] == name)]


DOCTORS = {
    "vbb-bad-valley": [
        ("the global (u > 0) floor is far from the population formula",
         lambda t, p: t.assign(floor_plus_exact=3 * t["theory_floor_plus"])),
        ("the spurious (u < 0) floor is far from the population formula",
         lambda t, p: t.assign(floor_minus_exact=3 * t["theory_floor_minus"])),
        ("the loss on s = 0 (the top of the barrier) is far from the population formula",
         lambda t, p: t.assign(L_zero=3 * t["theory_L_zero"])),
        ("descent in the spurious branch stops above that branch's floor",
         lambda t, p: t.assign(floor_minus_gd_max=t["floor_minus_exact"] * (1 + 1e-3))),
        ("the floor gap is 20 M^2, not 8 M^2",
         lambda t, p: t.assign(floor_minus_exact=t["floor_plus_exact"] + 20 * t["M"] ** 2)),
        ("the straight line between the branches stays below L(s = 0)",
         lambda t, p: t.assign(straight_max=0.5 * t["L_zero"])),
        ("the path through u = 0 rises above L(0)",
         lambda t, p: t.assign(path_max=1.1 * t["L_zero"])),
    ],
    "vbb-descent-path": [
        ("a descent certificate fails",
         lambda t, p: t.assign(certificate=[False] + [True] * (len(t) - 1))),
        ("a path ends above the convex optimum (a spurious valley)",
         lambda t, p: t.assign(end_loss=t["optimum"] + 0.1)),
    ],
    "vbb-quadratic-path": [
        ("a p = 2n descent certificate fails",
         lambda t, p: _on_rows(t, _a4(t) & (t["p"] == 2 * t["n"]), certificate=False)),
        ("a p = 2n + 1 descent certificate fails",
         lambda t, p: _on_rows(t, _a4(t) & (t["p"] == 2 * t["n"] + 1), certificate=False)),
        ("an A4 path ends above the global minimum 0",
         lambda t, p: _on_rows(t, _a4(t), end_loss=1e-3)),
        ("a net with n - 1 units goes below the rank floor",
         lambda t, p: _on_rows(t, ~_a4(t), end_loss=lambda d: 0.5 * d.loc[~_a4(d), "floor_bound"])),
    ],
    "vbb-random-features": [
        ("the excess falls like p^-1/2, not 1/p",
         lambda t, p: t.assign(excess=t["excess"] * np.sqrt(t["p"] / t["p"].min()))),
        ("the median excess rises again at the largest width", _excess_rises_at_the_largest_width),
    ],
    "vbb-intrinsic-dimension": [
        ("a polynomial's rank exceeds the corrected formula",
         lambda t, p: _on_rows(t, t.index == 0, rank=lambda d: d.loc[0, "rank"] + 1)),
        ("z^2's rank keeps growing past the formula",
         lambda t, p: _on_rows(t, _growth_rows(t, p, "z2"), rank=lambda d: d.loc[_growth_rows(d, p, "z2"), "J"])),
        ("a non-polynomial activation's rank saturates",
         lambda t, p: _on_rows(t, _growth_rows(t, p, p.activations[0]),
                               rank=lambda d: d.loc[_growth_rows(d, p, p.activations[0]), "J"] // 2)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         [(n, w, d) for n, ds in DOCTORS.items() for w, d in ds],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_judge_disagrees_with_a_doctored_table(name, what, doctor):
    assert_doctor_breaks_the_verdict(name, what, doctor)
