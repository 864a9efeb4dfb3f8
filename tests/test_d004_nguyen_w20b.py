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


def test_zero_loss_runs_below_the_width_are_not_covered():
    """width 19 < N = 20: the trained runs say nothing about T2.4.11 or CLAIMS item 18 (before:
    'every run reaches zero loss' was evidence at any width)."""
    verdict = _verdict("nguyen-zero-loss", n_samples=20, width=19, n_starts=1, max_evals=30)
    runs = [c for c in verdict.of_kind("evidence") if "run" in c.name]
    assert len(runs) == 2 and all(c.status == "not covered" for c in runs)
    hypothesis = next(c for c in verdict.of_kind("hypothesis") if c.name.startswith("trained net: width"))
    assert hypothesis.status == "not covered" and hypothesis.measured == "0 of 1 runs"


def test_shared_patches_counts_assumption_2_4_1_on_the_digits():
    """Noise-free digits share patches (blank corners) and whole images never; the thesis' noise
    separates every patch (Assumption 2.4.1), which the feature-rank judge reads."""
    from valleys.experiments.d004_nguyen._shared import noisy_digits
    from valleys.experiments.d004_nguyen.feature_rank import _shared_patches
    clean, _ = noisy_digits(100, 0.0, 0)
    noisy, _ = noisy_digits(100, 1e-3, 0)
    assert _shared_patches(clean) > 0
    assert _shared_patches(noisy) == 0
    twice = noisy[[0, 1, 0]]  # sample 0 twice: every patch of it shared
    assert _shared_patches(twice, patch=None) == 1
    assert _shared_patches(twice) == 36


def test_sublevel_connected_below_the_widths_is_not_covered():
    """Hidden widths N/2 and N (the theorem asks N and 2N): measured, the runs are not covered
    (before: the widths were hard-wired), and the part-1 descents outside are reported."""
    verdict = _verdict("nguyen-sublevel-connected", width_factor_1=0.5, width_factor_2=1.0, n_pairs=1,
                       activations=("relu",))
    assert verdict.outcome == "not covered"
    part1 = next(c for c in verdict.of_kind("hypothesis") if c.name.startswith("part 1"))
    assert part1.measured == "0 of 1 instances" and "end losses outside" in part1.note


def test_independent_data_with_more_samples_than_dimensions_is_not_covered():
    """N = 8 > d = 6 (rank X < N): no path is built and the verdict is not covered (before: the
    construction raised a DataError out of the run)."""
    verdict = _verdict("nguyen-independent-data", n=8)
    assert verdict.outcome == "not covered"
    rank = next(c for c in verdict.of_kind("hypothesis") if c.name.startswith("rank X"))
    assert rank.measured == "0 of 2 starts"
