"""Can the judges of document 003 (Safran & Shamir) fail? Doctored tables (see ``judges.py``).

Checks no table can break (they read the QP cross-validation or closed forms in the summary):
singleton and full-rank "sign criterion == exact QP basin value" and "QP basin values equal
the criterion's closed form"; auer "single-neuron optimum = min(t+, t-)^2 / 2".
"""

from __future__ import annotations

import numpy as np
import pytest
from judges import assert_doctor_breaks_the_verdict


def _where(t, rows, column, values):
    """``t`` with ``column`` replaced by ``values`` on the rows of the mask ``rows``."""
    out = t.copy()
    out.loc[rows, column] = np.asarray(values)[np.asarray(rows)] if np.ndim(values) else values
    return out


def _overspec_full_above_subset(t, p):
    return t.assign(full=t["subset"] + 1.0, difference=-1.0)


def _smallest_delta_as_large(t, p):
    """Bas at the smallest delta equal to its value at the largest (no decay with delta)."""
    d_min, d_max = min(p.deltas), max(p.deltas)
    big = t[t["delta"] == d_max].set_index(["width", "draw"])["bas"]
    rows = t["delta"] == d_min
    bas = t["bas"].copy()
    bas[rows] = [big[(w, d)] for w, d in zip(t.loc[rows, "width"], t.loc[rows, "draw"], strict=True)]
    return t.assign(bas=bas, bas_over_delta2=bas / t["delta"] ** 2)


DOCTORS = {
    "safran-shamir-singleton": [
        ("Monte Carlo falls below 1 - 2d(3/4)^n",
         lambda t, p: t.assign(estimate=0.0)),
        ("Monte Carlo leaves the exact probability (above the bound)",
         lambda t, p: t.assign(estimate=np.where(t["exact"] <= 0.8, t["exact"] + 0.2, t["exact"]))),
    ],
    "safran-shamir-full-rank": [
        ("Monte Carlo falls below 1 - m(3/4)^n",
         lambda t, p: t.assign(estimate=0.0)),
    ],
    "safran-shamir-overspecification": [
        ("the full net's basin is worse than a subset's", _overspec_full_above_subset),
    ],
    "safran-shamir-prop1": [
        ("P[L(W0) > L(0)] falls below (1 - 2^-n)/2 on random data",
         lambda t, p: _where(t, t["setting"] == "random data", "estimate", 0.0)),
        ("one point, small init: Monte Carlo well above the bound (not tight)",
         lambda t, p: _where(t, t["setting"] == "one point, small init", "estimate", t["bound"] + 0.2)),
    ],
    "safran-shamir-auer": [
        ("one neuron starts in the optimal basin more often than 2^-d",
         lambda t, p: _where(t, t["net"] == "single neuron", "estimate", t["exact"] + 0.1)),
        ("width n leaves the exact probability",
         lambda t, p: _where(t, (t["net"] == "two-layer") & (t["exact"] <= 0.8), "estimate", t["exact"] + 0.2)),
        ("width n does not fit the data exactly (alpha > 0)",
         lambda t, p: _where(t, t["net"] == "two-layer", "alpha", 0.5)),
        ("width n falls below 1 - 2d(3/4)^n",
         lambda t, p: _where(t, (t["net"] == "two-layer") & (t["bound"] > 0.1), "estimate", 0.0)),
    ],
    "safran-shamir-low-rank": [
        ("the fraction with Bas <= eps at the theorem's width falls below 1 - exp(-cn/4)",
         lambda t, p: _where(t, t["theorem_width"], "estimate", 0.0)),
    ],
    "safran-shamir-clustered": [
        ("good draws' Bas does not shrink with delta (slope 0, not 2)", _smallest_delta_as_large),
        ("P[Bas <= K delta^2] falls below 1 - d(7/8)^n",
         lambda t, p: t.assign(bas=np.where(t["delta"] == max(p.deltas), t["bas"], 1e6))),
        ("P[good] falls below 1 - k(3/4)^n (one good draw per width)",
         lambda t, p: t.assign(good=t["good"] & (t["draw"] == 0))),
    ],
    "safran-shamir-monotone-path": [
        ("the rescaled grid rises somewhere",
         lambda t, p: _where(t, t["part"] == "path", "max_step", 1e-3)),
        ("the path ends above L(P(W1))",
         lambda t, p: _where(t, t["part"] == "path", "end_gap", 1e-3)),
        ("the polygon's descent certificate fails",
         lambda t, p: _where(t, t["part"] == "path", "certificate", False)),
        ("P[L(P(W0)) > L(0)] falls below (1 - 2^-n)/2",
         lambda t, p: _where(t, t["part"] == "ss-p1", "estimate", 0.0)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         [(n, w, d) for n, ds in DOCTORS.items() for w, d in ds],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_judge_disagrees_with_a_doctored_table(name, what, doctor):
    assert_doctor_breaks_the_verdict(name, what, doctor)
