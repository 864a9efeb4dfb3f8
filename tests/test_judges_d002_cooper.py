"""Can the judges of document 002 (Cooper) fail? Doctored tables (see ``judges.py``)."""

from __future__ import annotations

import pytest
from judges import assert_doctor_breaks_the_verdict, assert_outside_hypotheses_is_not_covered, case_id, cases


def _first(mask):
    """True only at the first row where ``mask`` is True."""
    return mask & (mask.cumsum() == 1)


DOCTORS = {
    "cooper-straight-descent": [
        ("a random sigmoid draw has rank Phi < n (COO-T5.10)",
         lambda t, p: t.assign(rank_features=t["rank_features"] - _first(t["in_t510_class"]))),
    ],
    "cooper-global-manifold": [
        ("a zero-loss point has more than bn positive Hessian eigenvalues",
         lambda t, p: t.assign(n_positive=t["n_positive"] + (t.index == 0))),
        ("rank J falls below bn at a zero-loss point",
         lambda t, p: t.assign(rank_J=t["rank_J"] - (t.index == 0))),
        ("the Hessian nullity leaves Prop 6.1's dim M",
         lambda t, p: t.assign(nullity=t["nullity"] + (t.index == 0))),
    ],
    "cooper-attracting": [
        ("a positive start ends outside the radius",
         lambda t, p: t.assign(final_norm=t["final_norm"].where(t["function"] != "x^3+y^3, x0>0",
                                                                2 * p.radius))),
        ("GD leaves the flow x0 / (1 + 3 x0 eta k)",
         lambda t, p: t.assign(x_final=t["x_final"].where(t["function"] != "x^3+y^3, x0>0",
                                                          t["x_final"] * (1 + 10 * p.flow_rtol)))),
        ("a start with x0 < 0 does not diverge",
         lambda t, p: t.assign(diverged=t["diverged"] & ~_first(t["function"] == "x^3+y^3, x0<0"))),
        ("the negative starts blow up at twice the flow's time",
         lambda t, p: t.assign(diverged_at=t["diverged_at"].where(t["function"] != "x^3+y^3, x0<0",
                                                                  2 * t["diverged_at"]))),
    ],
    "cooper-star-core": [
        ("a star point with b_l = mean(y) is not critical",
         lambda t, p: t.assign(normalised_max=t["normalised_max"].where(
             ~((t["measurement"] == "gradient") & (t["bias_rule"] == "mean")), 1.0))),
        ("a core point's spectrum is not {2n (x b), 0 (x d-b)}",
         lambda t, p: t.assign(points_ok=t["points_ok"].where(t["measurement"] != "core spectrum",
                                                              t["points_ok"] - 1))),
        ("a star point outside C is not indefinite",
         lambda t, p: t.assign(indefinite=t["indefinite"].where(t["measurement"] != "star spectrum", False))),
    ],
    "cooper-examples": [
        ("the found critical points are far from the analytic ones",
         lambda t, p: t.assign(distance_to_analytic=t["distance_to_analytic"] + 1.0)),
        ("an analytic critical point is missed",
         lambda t, p: t.drop(index=t.index[t["function"] == "x^2-y^2"])),
        ("the critical points have other Morse indices than the analytic ones",
         lambda t, p: t.assign(index=t["index"] + 1)),
    ],
    "cooper-dimensions": [
        ("a counted dimension leaves the §3.1.1 formula and the derived forms",
         lambda t, p: t.assign(by_count=t["by_count"] + (t.index == 0))),
        ("the constraint-Jacobian dimension differs from the count",
         lambda t, p: t.assign(by_jacobian=t["by_jacobian"].where(t["by_jacobian"].isna(),
                                                                  t["by_jacobian"] + 1))),
        ("the tangent dimension of the C1 samples differs from the count",
         lambda t, p: t.assign(by_samples=t["by_samples"].where(t["by_samples"].isna(),
                                                                t["by_samples"] + 1))),
        ("the maximum counted dimension leaves the §3.1.1 max formula",
         lambda t, p: t.assign(by_count=t["by_count"] + t["is_max"].astype(int))),
    ],
    "cooper-fibre": [
        ("L on a fibre line is not a quadratic (COO-P5.7)",
         lambda t, p: t.assign(quad_resid=t["quad_resid"] + 1e3 * p.quad_rtol * _first(t["part"] == "fibre"))),
        ("a critical point of a full-rank fibre has L > 0 (COO-L5.8)",
         lambda t, p: t.assign(crit_loss=t["crit_loss"].where(
             ~_first((t["part"] == "fibre") & t["rank_phi_full"].fillna(False).astype(bool)
                     & t["rank_resolved"].fillna(False).astype(bool) & (t["m_last"] >= t["n"])), 1.0))),
        ("the fibre form's rank exceeds r_hat m_l (COO-L5.14)",
         lambda t, p: t.assign(fibre_rank=t["fibre_rank"].where(
             ~_first((t["part"] == "fibre") & (t["m_last"] > t["n"])), t["bound_corrected"] + 1))),
        ("Hess_bb differs from 2n I (COO-C5.19)",
         lambda t, p: t.assign(bb_curv_dev=t["bb_curv_dev"] + _first(t["part"] == "fibre"))),
        ("L rises along every flat direction of a one-hidden-layer point (COO-LSun)",
         lambda t, p: t.assign(flat_small_rise=t["flat_small_rise"].where(
             ~_first((t["part"] == "fibre") & (t["depth"] == 2) & (t["m_last"] > t["n"])), 1.0))),
        ("L changes along the flat last-layer line (COO-P5.13)",
         lambda t, p: t.assign(flat_dev=t["flat_dev"].where(
             ~_first((t["part"] == "fibre") & (t["m_last"] > t["n"])), 1.0))),
        ("a covered straight line ends above L = 0 (COO-T5.11)",
         lambda t, p: t.assign(end_loss=t["end_loss"].where(
             ~_first((t["part"] == "line") & (t["min_hidden"] > t["n"])), t["loss"]))),
    ],
    "cooper-eigencounts": [
        ("a core point has one more nonzero eigenvalue than b",
         lambda t, p: t.assign(codim=t["codim"] + _first(t["kind"] == "C"))),
        ("a zero-loss point has one more nonzero eigenvalue than bn",
         lambda t, p: t.assign(codim=t["codim"] + _first(t["kind"] == "M"))),
        ("a star point has fewer than (m + 1 - n) b zero eigenvalues",
         lambda t, p: t.assign(nullity=t["nullity"].where(~_first(t["kind"] == "star"), 0))),
    ],
    "cooper-wide-flat": [
        ("the loss changes along the claimed flat subspace",
         lambda t, p: t.assign(flat_dev=t["flat_dev"] + 1e3 * p.flat_tol)),
        ("a PSD critical point has fewer zero eigenvalues than the corrected bound",
         lambda t, p: t.assign(nullity=t["nullity"].where(~t["psd"], t["bound_corrected"] - 1))),
        ("an S_(l-1) saddle's nullity leaves the closed form",
         lambda t, p: t.assign(nullity_closed_form=t["nullity_closed_form"] + 1)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(DOCTORS), ids=case_id)
def test_judge_disagrees_with_a_doctored_table(name, what, doctor):
    assert_doctor_breaks_the_verdict(name, what, doctor)


OUTSIDE = {
    "cooper-fibre": [
        ("a discontinuous activation (outside Cooper's setting for every statement of §5)",
         lambda t, p: t.assign(continuous=False)),
    ],
    "cooper-eigencounts": [
        ("no point is critical", lambda t, p: t.assign(grad_normalised=10 * p.crit_tol + 1.0)),
    ],
    "cooper-star-core": [
        ("sigma(0) != 0 for every activation (a sigmoid-like sigma moves the features off zero)",
         lambda t, p: t.assign(sigma0=0.5)),
    ],
    "cooper-dimensions": [
        ("every net has depth 2 (no star or core locus of §3)", lambda t, p: t.assign(depth=2)),
    ],
    # cooper-examples has no entry: its three functions are fixed explicit polynomials
    # (x^4+5x^3+6x^2, 5x^4-5x^2+x, x^2-y^2) and Cooper's statements about them carry no
    # hypothesis, so no generated instance can lie outside one; the only part with a hypothesis
    # is the grid's view of the spurious valleys (the sublevel set must lie inside the grid's
    # x-range), gated and tested in test_examples_spurious_valleys_need_the_sublevel_set_inside_the_grid.
    "cooper-attracting": [
        ("every x^3 + y^3 start has x0 < 0 (none in the attraction region)",
         lambda t, p: t.assign(x0=-t["x0"].abs())),
    ],
    "cooper-global-manifold": [
        ("d = bn (no room for a manifold of positive dimension)", lambda t, p: t.assign(bn=t["d"])),
        ("points off M (positive loss)", lambda t, p: t.assign(loss=1.0)),
    ],
    "cooper-wide-flat": [
        ("no point is critical", lambda t, p: t.assign(grad_normalised=10 * p.crit_tol + t["grad_normalised"])),
    ],
    "cooper-straight-descent": [
        ("no activation of COO-T5.10's class (sigmoid replaced by tanh)",
         lambda t, p: t.assign(in_t510_class=False, activation=t["activation"].replace("sigmoid", "tanh"))),
        ("a last hidden layer narrower than n", lambda t, p: t.assign(m_last=p.n - 1)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(OUTSIDE), ids=case_id)
def test_judge_says_not_covered_outside_the_hypotheses(name, what, doctor):
    assert_outside_hypotheses_is_not_covered(name, what, doctor)


def test_examples_spurious_valleys_need_the_sublevel_set_inside_the_grid():
    from judges import quick_measurement

    from valleys.experiments import get_experiment
    from valleys.record import Measurement

    params, measured = quick_measurement("cooper-examples")
    summary = {k: ({**v, "inside_grid": False} if isinstance(v, dict) and "inside_grid" in v else v)
               for k, v in measured.summary.items()}
    verdict = get_experiment("cooper-examples").parts.judge(
        Measurement(measured.table, summary, dict(measured.surfaces), dict(measured.extras)), params)
    valleys = [c for c in verdict.checks if "spurious valley" in c.name and c.kind == "evidence"]
    assert len(valleys) == 2 and all(c.status == "not covered" for c in valleys)
    assert verdict.outcome == "agrees"  # the critical points and the level set have no hypothesis
