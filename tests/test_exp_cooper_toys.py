"""The Cooper toy experiments: quick presets agree, and a too-short run disagrees."""

import pytest

from valleys.experiments import get_experiment


def test_attracting_measures_the_flow_rate_and_the_origin():
    exp = get_experiment("cooper-attracting")
    result = exp.run(exp.params.preset(quick=True))
    checks = {c.name: c for c in result.verdict.checks}
    slope = checks["log-log slope of median ||theta_k|| (last decade)"].measured
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert result.metadata["origin_eigenvalues"] == [0.0, 0.0]
    neg = result.table[result.table.function == "x^3+y^3, x0<0"]
    assert neg.diverged.all() and (neg.diverged_at > 0).all()


def test_attracting_disagrees_when_gd_runs_too_briefly():
    exp = get_experiment("cooper-attracting")
    params = exp.params.preset(quick=True).replace(steps=200, n_starts=20, n_negative=5)
    verdict = exp.run(params).verdict
    assert not verdict.passed
    failed = {c.name for c in verdict.checks if not c.passed}
    assert "max ||theta_K|| over positive starts" in failed


def test_examples_table_matches_the_analytic_critical_points():
    exp = get_experiment("cooper-examples")
    table = exp.run(exp.params.preset(quick=True)).table
    f1 = table[table.function == "x^4+5x^3+6x^2"].sort_values("x")
    roots = [(-15 - 33 ** 0.5) / 8, (-15 + 33 ** 0.5) / 8, 0.0]
    assert f1.x.tolist() == pytest.approx(roots, abs=1e-8)
    assert f1.kind.tolist() == ["global-min", "local-max", "local-min"]
    f2 = table[table.function == "5x^4-5x^2+x"]
    assert (f2.nullity == 1).all()  # every critical point of 5x^4-5x^2+x is a line in y
