"""The quick presets of document 001's toy experiments pass, and their pieces are right."""

import pytest

from valleys.experiments import get_experiment
from valleys.experiments.sun_toys import zero_is_extremum
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
    import valleys.experiments.sun_toys as mod

    original = mod.zero_is_extremum
    try:
        mod.zero_is_extremum = lambda phi, **kw: (False, 0)
        assert not exp.run(p).verdict.passed
    finally:
        mod.zero_is_extremum = original
