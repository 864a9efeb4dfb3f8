"""Issue 20 (Nguyen, second helper): the widths the theorems assume are parameters, and runs
outside the hypotheses are reported as not covered (measured, not doctored)."""

from __future__ import annotations

from valleys.experiments import get_experiment


def _verdict(name: str, **changes):
    experiment = get_experiment(name)
    params = experiment.params.preset(quick=True).replace(**changes)
    return experiment.parts.judge(experiment.parts.measure(params), params)


def test_gradient_bounds_below_the_wide_layer_is_not_covered():
    """n_k < N on every instance: the lemma does not speak (before: the width was hard-wired)."""
    verdict = _verdict("nguyen-gradient-bounds", wide_extra=(-2, -1), n_instances=20)
    assert verdict.outcome == "not covered"
    assert {c.name for c in verdict.checks if c.status == "not covered" and c.kind == "evidence"} == {
        "lower bound <= ||grad||", "||grad|| <= upper bound"}
