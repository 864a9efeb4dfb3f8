"""Exact binomial intervals, checks with stated power, and verdict outcomes."""

import numpy as np
import pytest
from scipy.stats import binomtest

from valleys.record import Verdict
from valleys.record.stats import (
    MAX_STANDARD_ERRORS,
    clopper_pearson,
    mean_check,
    mean_exceeds_check,
    proportion_check,
)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (17, 40), (1, 1000)])
def test_clopper_pearson_matches_scipy_exact_interval(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert clopper_pearson(k, n, 0.95) == pytest.approx((ci.low, ci.high), rel=1e-10, abs=1e-14)


def test_clopper_pearson_closed_forms_at_the_edges():
    n, alpha = 25, 0.01
    assert clopper_pearson(0, n, 1 - alpha) == pytest.approx((0.0, 1 - (alpha / 2) ** (1 / n)))
    assert clopper_pearson(n, n, 1 - alpha) == pytest.approx(((alpha / 2) ** (1 / n), 1.0))


def test_proportion_below_a_lower_bound_fails_and_inside_passes():
    v = Verdict()
    assert not proportion_check(v, "p >= 0.9", 60, 100, at_least=0.9).passed
    assert proportion_check(v, "p >= 0.6", 55, 100, at_least=0.6).passed
    assert v.outcome == "disagrees"


def test_exact_probability_outside_the_interval_fails():
    v = Verdict()
    assert proportion_check(v, "p = 0.5", 50, 100, equals=0.5).passed
    assert not proportion_check(v, "p = 0.8", 50, 100, equals=0.8).passed


def test_too_few_draws_does_not_decide():
    v = Verdict()
    check = proportion_check(v, "p >= 0.99", 0, 3, at_least=0.99, min_draws=20)
    assert check.status == "insufficient draws" and not check.decided
    assert v.outcome == "inconclusive"


@pytest.mark.parametrize("kw", [{"at_least": -0.2}, {"at_least": 0.0}, {"at_most": 2.0 ** -100},
                                {"at_most": 1.0}])
def test_vacuous_bounds_are_reported_as_vacuous(kw):
    v = Verdict()
    assert proportion_check(v, "bound", 5, 100, **kw).status == "vacuous"
    assert v.outcome == "inconclusive"


def test_mean_within_measured_standard_errors():
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 0.1, size=400)
    v = Verdict()
    assert mean_check(v, "mean = 1", x, 1.0).passed
    assert not mean_check(v, "mean = 1.1", x, 1.1).passed  # 20 SE away
    with pytest.raises(ValueError, match="n_se"):
        mean_check(v, "too loose", x, 1.0, n_se=MAX_STANDARD_ERRORS + 11)


def test_mean_exceeds_decides_only_outside_its_interval():
    rng = np.random.default_rng(1)
    v = Verdict()
    assert mean_exceeds_check(v, "above", rng.normal(1.0, 0.1, size=30), 0.0).status == "passed"
    assert mean_exceeds_check(v, "below", rng.normal(-1.0, 0.1, size=30), 0.0).status == "failed"
    assert mean_exceeds_check(v, "straddles", rng.normal(0.0, 1.0, size=30), 0.0).status == "insufficient draws"
    assert mean_exceeds_check(v, "few", [1.0, 1.1], 0.0, min_draws=5).status == "insufficient draws"
    with pytest.raises(ValueError, match="n_se"):
        mean_exceeds_check(v, "too loose", [1.0, 2.0, 3.0], n_se=MAX_STANDARD_ERRORS + 1)


def test_outcomes():
    v = Verdict()
    v.add("identity", 1, 1, 0, True, kind="consistency")
    assert v.outcome == "no evidence" and not v.passed
    v.hypothesis("rank X = n", "0 of 3 instances", "all", held=False)
    v.not_covered("probability bound", ">= 0.5", "no instance has rank X = n")
    assert v.outcome == "not covered" and not v.passed
    assert "1 hypotheses not met" in v.summary
    v.add("closed form", 2.0, 2.0, 1e-12, True, kind="evidence")
    assert v.outcome == "agrees" and v.passed
    v.add("bound", 0.1, ">= 0.5", None, False, kind="evidence")
    assert v.outcome == "disagrees"


def test_a_failed_hypothesis_never_makes_a_verdict_disagree():
    v = Verdict()
    v.hypothesis("width >= N", "2 of 4", "all", held=True, note="2 instances left out")
    v.hypothesis("full rank", "0 of 4", "all", held=False)
    v.add("evidence", 1.0, 1.0, 0.0, True, kind="evidence")
    assert v.outcome == "agrees"


def test_status_must_match_passed():
    v = Verdict()
    with pytest.raises(ValueError, match="contradicts"):
        v.add("x", 1, 1, None, True, kind="evidence", status="not covered")
