"""The quick presets of document 001's toy experiments pass, and their pieces are right."""

import pytest

from valleys.experiments import get_experiment
from valleys.experiments.d001_sun.single_point import zero_is_extremum
from valleys.nets import get_activation


@pytest.mark.parametrize("name,expected", [("relu", True), ("square", True), ("leaky_relu", False),
                                           ("tanh", False), ("sigmoid", False), ("softplus", False),
                                           ("elu", False), ("cube", False), ("requ", True)])
def test_zero_criterion(name, expected):
    assert zero_is_extremum(get_activation(name), per_unit=200)[0] is expected


def test_single_point_verdict_fails_when_criterion_is_wrong():
    """The check can fail: pretending z^3 behaves like z^2 gives a disagreeing verdict."""
    exp = get_experiment("sun-single-point")
    p = exp.params.preset(quick=True).replace(activations=("square",), x=-1.0, y=2.0)
    assert exp.run(p).verdict.passed
    import valleys.experiments.d001_sun.single_point as mod

    original = mod.zero_is_extremum
    try:
        mod.zero_is_extremum = lambda phi, **kw: (False, 0)
        assert not exp.run(p).verdict.passed
    finally:
        mod.zero_is_extremum = original


def test_cube_stalls_are_reported_and_shown_not_to_be_minima():
    exp = get_experiment("sun-single-point")
    params = exp.params.preset(quick=True).replace(activations=("cube",), n_starts=80, steps=600,
                                                   grid_points=21)
    result = exp.run(params)
    frac = result.metadata["stalled_fraction"]["cube"]
    assert 0 < frac < 1  # some runs stall on the line v = 0 (CLAIMS.md SUN-T3.1)
    stall = [c for c in result.verdict.checks if c.name.startswith("cube: ")]
    assert [c.kind for c in stall] == ["evidence"] * 3 and all(c.passed for c in stall)
    assert "higher-order probe finds descent" in stall[-1].name
    # a probe too small to see the cubic descent refutes nothing, so the check fails
    blind = exp.run(params.replace(probe_degree_radii=(1e-9,)))
    assert not next(c for c in blind.verdict.checks if "higher-order" in c.name).passed


def test_relu_toy_finds_the_global_minimum_and_certifies_stuck_points():
    exp = get_experiment("sun-toy-relu")
    result = exp.run(exp.params.preset(quick=True).replace(n_starts=400, steps=800))
    checks = {c.name: c for c in result.verdict.checks}
    found = checks["global minimum found numerically (grid search + BFGS)"]
    assert found.kind == "evidence" and found.passed and found.measured < 1e-20
    stuck = next(c for n, c in checks.items() if n.startswith("stuck end points are local minima"))
    assert stuck.passed and stuck.kind == "evidence"
    plateau = [c for c in result.verdict.checks if "v0 < 0" in c.name and c.kind == "consistency"]
    assert len(plateau) == 2


def test_single_point_refuses_a_zero_data_point_before_running():
    from valleys.errors import InvalidParameterError

    exp = get_experiment("sun-single-point")
    with pytest.raises(InvalidParameterError, match="sun-single-point: parameter y must be nonzero"):
        exp.params.preset(quick=True).with_overrides(["y=0"])
