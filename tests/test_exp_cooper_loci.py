"""Quick presets of the Cooper loci experiments pass and return tables and figures."""

import pytest

from valleys.errors import InvalidParameterError
from valleys.experiments import get_experiment


def test_star_core_reports_sum_erratum_with_numbers():
    exp = get_experiment("cooper-star-core")
    p = exp.params.preset(quick=True).replace(shapes=("2:1:3:4:5",), activations=("tanh",),
                                              points_per_component=5)
    result = exp.run(p)
    sums = result.table[(result.table.measurement == "gradient") & (result.table.bias_rule == "sum")]
    assert (sums.min_abs_grad > 1.0).all()
    assert (sums.erratum_rel_error <= 1e-10).all()


def test_dimensions_lists_prop61_shortfalls():
    exp = get_experiment("cooper-dimensions")
    result = exp.run(exp.params.preset(quick=True))
    below = {r["net"]: r for r in result.metadata["prop61_below_max"]}
    assert below["3:1:10:5"]["max_S"] == 300 and below["3:1:10:5"]["paper_S"] == 240
    assert below["10:2:50:4"]["max_S"] == 5000 and below["10:2:50:4"]["paper_S"] == 3050


def test_bad_shape_string_is_a_clear_error():
    exp = get_experiment("cooper-star-core")
    with pytest.raises(InvalidParameterError, match="a:b:m:l:n"):
        exp.run(exp.params.preset(quick=True).replace(shapes=("2:1:3",)))
