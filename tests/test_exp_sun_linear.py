"""The Sun et al. experiments: deep linear networks and the NTK PL inequality."""

import pytest

from valleys.errors import InvalidParameterError
from valleys.experiments import get_experiment


def test_deep_linear_table_has_gd_runs_and_every_baldi_hornik_point():
    exp = get_experiment("sun-deep-linear")
    params = exp.params.preset(quick=True)
    table = exp.run(params).table
    gd = table[table.part == "gd"]
    assert len(gd) == params.n_runs * len(params.architectures)
    bh = table[table.part == "baldi-hornik"]
    assert len(bh) == 1 + 5 + 10  # index sets of size <= 2 out of d_y = 5
    assert bh.is_top.sum() == 1


def test_deep_linear_disagrees_when_gd_stops_early():
    exp = get_experiment("sun-deep-linear")
    params = exp.params.preset(quick=True).replace(steps=20, architectures=("2",))
    verdict = exp.run(params).verdict
    assert not verdict.passed
    assert any(c.name.startswith("GD ") and not c.passed for c in verdict.checks)


def test_deep_linear_rejects_inconsistent_signal():
    exp = get_experiment("sun-deep-linear")
    with pytest.raises(InvalidParameterError, match="len\\(signal\\) == d_y"):
        exp.run(exp.params.preset(quick=True).replace(signal=(1.0, 2.0)))


def test_ntk_pl_slack_is_nonnegative_at_every_iterate():
    exp = get_experiment("sun-ntk-pl")
    params = exp.params.preset(quick=True).replace(widths=(30, 120), max_steps=300)
    result = exp.run(params)
    table = result.table
    assert (table.slack >= -1e-10).all() and (table.lambda_min > 0).all()
    assert set(table.width) == {30, 120}
    # 300 steps are too few to reach F < 1e-10: check (iii) must say so.
    checks = {c.name.split(")")[0]: c for c in result.verdict.checks}
    assert not checks["(iii"].passed
