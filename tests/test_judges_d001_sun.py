"""Can the judges of document 001 (Sun et al.) fail? Doctored tables (see ``judges.py``).

Evidence checks that read only the summary (measured on the landscape itself, not in the
table) cannot be broken by a doctored table; they are listed in the branch report, not faked.
"""

from __future__ import annotations

import numpy as np
import pytest
from judges import (
    assert_doctor_breaks_the_verdict,
    assert_outside_hypotheses_is_not_covered,
    case_id,
    cases,
    judge,
    quick_measurement,
)

from valleys.experiments.d001_sun.requ import LOCAL_MIN


def _set(t, mask, column, value):
    """``t`` with ``column`` set to ``value`` on the first row where ``mask`` holds."""
    t.loc[t.index[np.flatnonzero(mask)[0]], column] = value
    return t


def _uv_saddle_degenerate(t, p):
    t.loc[(t.point == "origin") & (t.theory == -2.0), "eigenvalue"] = 0.0
    return t


def _uv_curve_spectrum(t, p):
    top = (t.point == "curve") & (t.theory > 0)
    t.loc[top, "eigenvalue"] = t.loc[top, "eigenvalue"] * 1.01
    return t


def _uv_no_zero_eigenvalue(t, p):
    zero = (t.point == "curve") & (t.theory == 0)
    top = t.loc[(t.point == "curve") & (t.theory > 0), "theory"].iloc[0]
    return _set(t, zero, "eigenvalue", 0.5 * top)


def _relu_half_not_stuck(t, p):
    stuck = (t.loss - 1.0).abs() < p.stuck_tol
    return t.assign(loss=t.loss.where(~stuck, 0.0))


def _single_tanh_minimum(t, p):
    return _set(t, t.activation == "tanh", "minima_from_gd", 3)


def _single_relu_no_minimum(t, p):
    relu = t.activation == "relu"
    t.loc[relu, ["minima_from_gd", "minima_on_grid"]] = 0
    return t


def _single_tanh_run_misses(t, p):
    tanh = t.activation == "tanh"
    t.loc[tanh, "runs_reaching_global"] = t.loc[tanh, "runs_reaching_global"] - 1
    return t


def _ntk_lambda_zero(t, p):
    return _set(t, (t.step == 1) & (t.width == t.width.max()), "lambda_min", 0.0)


def _ntk_final_above_target(t, p):
    return _set(t, (t.width == t.width.max()) & (t.step == t[t.width == t.width.max()].step.max()),
                "F", 1e-3)


def _ntk_slow_rate(t, p):
    for _, rows in t.groupby("width"):
        bound = rows.log_rate.iloc[:-1].sum()
        t.loc[rows.index[0], "F"] = rows.F.iloc[-1] * np.exp(-0.5 * bound)  # log(F_K / F_0) = bound / 2
    return t


def _ntk_wide_drifts(t, p):
    wide = t.width == t.width.max()
    t.loc[wide, "lambda_min"] = t.loc[wide, "lambda_min"] * (1 + 10 * t.loc[wide, "step"] / t.loc[wide, "step"].max())
    return t


def _dl_gd_above(t, p):
    gd = t.part == "gd"
    t = _set(t, gd, "loss", t.loc[gd, "optimum"].iloc[0] * 1.01)
    return _set(t, gd, "relative_gap", 0.01)


def _dl_top_above(t, p):
    top = (t.part == "baldi-hornik") & (t.is_top == True)  # noqa: E712
    t.loc[top, "loss"] = t.loc[top, "loss"] * 1.01
    t.loc[top, "closed_form_loss"] = t.loc[top, "closed_form_loss"] * 1.01
    return t


def _dl_nontop_minimum(t, p):
    other = (t.part == "baldi-hornik") & (t.is_top == False)  # noqa: E712
    t = _set(t, other, "lambda_min", 1e-3)
    return _set(t, other, "kind", "local-min")


def _exp_critical(t, p):
    return t.critical & t.bounded & (t.model == "with neuron")


def _exp_minimum_above(t, p):
    crit = _exp_critical(t, p)
    best = t.loc[crit, "loss"].min()
    t = _set(t, crit, "loss", best + 1.0)
    t = _set(t, crit, "hess_min", 1e-3)
    return _set(t, crit, "kind", "minimum")


def _exp_degenerate_unescaped_above(t, p):
    """A degenerate critical point above the best value that neither the escape along the
    flat (w, b) directions nor a probe can leave: a spurious local minimum."""
    crit = _exp_critical(t, p) & (t.data == "non-separable")
    best = t.loc[crit, "loss"].min()
    t = _set(t, crit, "loss", best + 1.0)
    for column, value in (("kind", "degenerate"), ("escape_drop", 0.0), ("probe_drop", 0.0)):
        t = _set(t, crit, column, value)
    return t


def _exp_separable_above_zero(t, p):
    sep = (t.data == "separable") & (t.model == "with neuron")
    t.loc[sep, "loss"] = t.loc[sep, "loss"] + 1.0
    return t


def _requ_single_min_above(t, p):
    mins = (t.instance == "single-point") & (t.kind == LOCAL_MIN)
    return _set(t, mins, "value", t.loc[mins, "value"].iloc[0] + 1e-3)


def _requ_single_below(t, p):
    single = t.instance == "single-point"
    lowest = t.loc[single, "value"].idxmin()
    t.loc[lowest, "value"] = t.loc[lowest, "value"] - 1.0
    return t


def _requ_training_error(t, p):
    return _set(t, (t.instance == "claims") & (t.kind == LOCAL_MIN), "train_errors", 1)


def _wide_rank_deficient(activation):
    def doctor(t, p):
        return _set(t, (t.part == "rank") & (t.activation == activation), "rank_features", p.n - 1)
    return doctor


def _wide_end_trapped(activation):
    def doctor(t, p):
        """A critical end point above the global value with neither a descent line nor a revival."""
        ends = (t.part == "train") & (t.activation == activation)
        for column, value in (("F", 0.5), ("grad_norm", 0.0), ("line_end_loss", 0.5), ("revival_end_loss", 0.5)):
            t = _set(t, ends, column, value)
        return t
    return doctor


DOCTORS = {
    "sun-sigmoid-three-points": [
        ("the higher point's Hessian is indefinite (a saddle)", lambda t, p: t.assign(high_eig_min=-1.0)),
        ("the two minima have the same value", lambda t, p: t.assign(high_loss=t["low_loss"])),
        ("the higher point has a nonzero gradient", lambda t, p: t.assign(high_grad_norm=1e-3)),
        ("no GD run reaches the sub-optimal minimum", lambda t, p: t.assign(gd_at_high=0)),
    ],
    "sun-smoothed-relu": [
        ("the right slope at 0 is 1 (a kink: not C^1)",
         lambda t, p: t.assign(fd_first=t["fd_first"].where(t["side"] != "right", 1.0))),
        ("r(t) - (t - 1) does not vanish", lambda t, p: t.assign(gap=t["gap"] + 0.5)),
    ],
    "sun-wide-layer": [
        ("a critical leaky-ReLU end point above the global value with no path down (T3.3)",
         _wide_end_trapped("leaky_relu")),
        ("an e^t - 1 random point has rank Z < n (C4.1(b))", _wide_rank_deficient("expm1")),
        ("a critical ReLU end point above the global value with no path down (T3.4)", _wide_end_trapped("relu")),
        ("a critical end point with full-rank features has F > 0 (C4.1(a))",
         lambda t, p: _set(t, (t.part == "train") & (t.activation == "expm1"), "F", 0.1)),
    ],
    "sun-toy-uv": [
        ("the origin is no strict saddle (eigenvalue 0 instead of -2)", _uv_saddle_degenerate),
        ("the curvature on uv = 1 leaves 2(u^2 + v^2)", _uv_curve_spectrum),
        ("a point of uv = 1 has no zero eigenvalue", _uv_no_zero_eigenvalue),
        ("a GD run ends off uv = 1", lambda t, p: _set(t, t.point == "gd-end", "gap", 0.5)),
    ],
    "sun-toy-relu": [
        ("no run gets stuck at loss 1", _relu_half_not_stuck),
        ("a run ends neither stuck nor at the global minimum",
         lambda t, p: _set(t, (t.loss - 1.0).abs() >= p.stuck_tol, "loss", 0.5)),
    ],
    "sun-single-point": [
        ("tanh (no zero extremum) gets a sub-optimal local minimum", _single_tanh_minimum),
        ("relu (zero extremum) has no sub-optimal local minimum", _single_relu_no_minimum),
        ("a tanh GD run misses the global minimum", _single_tanh_run_misses),
    ],
    "sun-ntk-pl": [
        ("lambda_min(K) reaches 0 along GD", _ntk_lambda_zero),
        ("F stays above the target at the widest net", _ntk_final_above_target),
        ("F decays at half the PL rate", _ntk_slow_rate),
        ("lambda_min(K) drifts most at the widest net", _ntk_wide_drifts),
    ],
    "sun-deep-linear": [
        ("a GD run ends 1% above the reduced-rank optimum", _dl_gd_above),
        ("a Baldi-Hornik point has a nonzero gradient",
         lambda t, p: _set(t, t.part == "baldi-hornik", "grad_norm", 1.0)),
        ("a Baldi-Hornik loss leaves its closed form",
         lambda t, p: _set(t, t.part == "baldi-hornik", "loss", 2.0 * t.loc[t.part == "baldi-hornik", "loss"].iloc[0])),
        ("a non-top Baldi-Hornik point is a local minimum", _dl_nontop_minimum),
        ("the top-set Baldi-Hornik points lie above the optimum", _dl_top_above),
    ],
    "sun-exponential-neuron": [
        ("a local minimum lies above the best value", _exp_minimum_above),
        ("a degenerate critical point above the best value admits no descent",
         _exp_degenerate_unescaped_above),
        ("no run reaches F = 0 on separable data", _exp_separable_above_zero),
    ],
    "sun-requ": [
        ("a certified single-point minimum lies above the closed-form global minimum",
         _requ_single_min_above),
        ("a single-point value lies below the closed-form global minimum", _requ_single_below),
        ("a certified claims minimum has a training error", _requ_training_error),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(DOCTORS), ids=case_id)
def test_judge_disagrees_with_a_doctored_table(name, what, doctor):
    assert_doctor_breaks_the_verdict(name, what, doctor)


def _uv_outside(t, p):
    """Every row off its claimed place: the 'origin' at (0.5, 0.5), the 'curve' points on
    uv = 2, the GD starts on the origin's stable line u = -v."""
    origin, curve = t.point == "origin", t.point == "curve"
    t.loc[origin, ["u", "v"]] = 0.5
    t.loc[curve, "v"] = 2 * t.loc[curve, "v"]
    t.loc[t.point == "gd-end", "start_v"] = -t.loc[t.point == "gd-end", "start_u"]
    return t


OUTSIDE = {
    "sun-sigmoid-three-points": [
        ("two data points (n < 3)", lambda t, p: t.assign(n_points=2, distinct_points=2)),
    ],
    "sun-smoothed-relu": [
        ("steps h = 1 and abscissae t = 1: neither limit regime", lambda t, p: t.assign(h=1.0, t=1.0)),
    ],
    "sun-wide-layer": [
        ("a last hidden layer narrower than n and repeated samples",
         lambda t, p: t.assign(width_last=t["n"] - 1, distinct_samples=False, distinct_coordinate=False)),
    ],
    "sun-toy-relu": [
        ("the target is y = 0 (the plateau v < 0 is then the global minimum)", lambda t, p: t.assign(target=0.0)),
    ],
    "sun-toy-uv": [
        ("no row at the origin, on uv = 1, or starting off u = -v", _uv_outside),
    ],
    "sun-single-point": [
        ("the data point has y = 0", lambda t, p: t.assign(y=0.0)),
    ],
    "sun-deep-linear": [
        ("Sigma with a repeated eigenvalue", lambda t, p: t.assign(sigma_eigengap=0.0)),
    ],
    "sun-ntk-pl": [
        ("GD outside its stable regime (eta lambda_max(K) >= 1)",
         lambda t, p: t.assign(lambda_max=t["lambda_max"] * 1e6)),
    ],
    "sun-requ": [
        ("fewer neurons than n + 1 (m = n)", lambda t, p: t.assign(m=t["n"])),
        ("no regulariser (lambda_j = 0)", lambda t, p: t.assign(lam_min=0.0)),
    ],
    "sun-exponential-neuron": [
        ("no penalty (lambda = 0)", lambda t, p: t.assign(lam=0.0)),
        ("a hinge that is not twice differentiable (power 2)", lambda t, p: t.assign(power=2)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(OUTSIDE), ids=case_id)
def test_judge_says_not_covered_outside_the_hypotheses(name, what, doctor):
    assert_outside_hypotheses_is_not_covered(name, what, doctor)


def _requ_claims_minima(t):
    return (t.instance == "claims") & (t.kind == LOCAL_MIN)


def test_requ_erratum_tolerance_is_relative():
    """F shrinks with lambda: the claims values scaled by 1e-6 (as at lambda scale 1e-6) keep
    the erratum (an absolute 1e-6 merged the two minima and flipped the verdict)."""
    claims = lambda t, p: t.assign(value=t["value"].where(t.instance != "claims", t["value"] * 1e-6))  # noqa: E731
    verdict = judge("sun-requ", claims)
    erratum = [c for c in verdict.checks if c.kind == "erratum"]
    assert verdict.outcome == "agrees" and erratum and all(c.status == "passed" for c in erratum)


def test_requ_erratum_not_reproduced_is_no_decision_not_disagreement():
    """Every certified claims minimum at the lowest value: the erratum is not reproduced,
    which contradicts neither the erratum nor the seed: the check does not decide."""
    def same(t, p):
        mins = _requ_claims_minima(t)
        return t.assign(value=t["value"].where(~mins, t.loc[t.instance == "claims", "value"].min()))

    verdict = judge("sun-requ", same)
    erratum = [c for c in verdict.checks if c.kind == "erratum"]
    assert verdict.outcome == "agrees"
    assert [c.status for c in erratum] == ["not reproduced"] and "NOT reproduced" in erratum[0].note


def test_requ_stores_the_coordinates_of_its_minima():
    """Anyone can re-verify a certified minimum from the summary: value and gradient."""
    from valleys.experiments.d001_sun._shared import requ_fun_grad

    _, measured = quick_measurement("sun-requ")
    minima, instances = measured.summary["minima"], measured.summary["instances"]
    assert len(minima) == int(_requ_claims_minima(measured.table).sum()
                              + ((measured.table.instance == "single-point")
                                 & (measured.table.kind == LOCAL_MIN)).sum())
    for entry in minima:
        inst = instances[f"{entry['instance']}@{entry['lam_scale']:g}"]
        value, grad = requ_fun_grad(np.array(inst["x"]), np.array(inst["y"]), np.array(inst["lam"]))(
            np.array(entry["theta"]))
        assert abs(value - entry["value"]) <= 1e-12 * abs(value) and np.linalg.norm(grad) < 1e-8


def test_toy_relu_stuck_fraction_is_an_exact_interval_with_a_minimum_of_draws():
    """Ten runs cannot decide "P(stuck) >= 1/2": the check reports insufficient draws."""
    verdict = judge("sun-toy-relu", lambda t, p: t.iloc[:10])
    check = next(c for c in verdict.checks if c.name.startswith("fraction stuck >= P(v0 < 0)"))
    assert check.status == "insufficient draws" and check.kind == "evidence"
    honest = next(c for c in judge("sun-toy-relu").checks if c.name.startswith("fraction stuck >= P(v0 < 0)"))
    assert honest.status == "passed" and "exact 99% interval" in honest.note
