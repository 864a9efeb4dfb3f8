import math

import pytest
import torch

from valleys import Landscape, nets
from valleys.errors import InvalidParameterError

T = torch.linspace(-3, 3, 601, dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(nets.ACTIVATIONS))
def test_activation_properties_hold_numerically(name):
    act = nets.get_activation(name)
    f = act(T)
    assert act.value_at_zero == pytest.approx(float(act(torch.zeros(1, dtype=torch.float64))))
    diffs = f[1:] - f[:-1]
    if act.strictly_increasing:
        assert (diffs > 0).all()
    else:
        assert (diffs <= 0).any()
    if act.homogeneous_degree is not None:
        k = act.homogeneous_degree
        assert torch.allclose(act(2.5 * T), 2.5 ** k * f)
    if act.degree is not None:
        coeffs = torch.linalg.lstsq(torch.stack([T ** j for j in range(act.degree + 1)], 1), f[:, None]).solution
        fit = torch.stack([T ** j for j in range(act.degree + 1)], 1) @ coeffs
        assert torch.allclose(fit[:, 0], f, atol=1e-9)


def test_surjectivity_and_smoothed_relu_is_c1_not_c2():
    big = torch.tensor([-1e7, 1e7], dtype=torch.float64)
    for name in ("identity", "leaky_relu", "cube", "tanh_cubic"):
        a = nets.get_activation(name)
        assert a.surjective and a(big)[0] < -1e5 and a(big)[1] > 1e5
    r = nets.smoothed_relu()
    h = 1e-4
    d1 = lambda t: (r(torch.tensor(t + h)) - r(torch.tensor(t - h))) / (2 * h)  # noqa: E731
    assert abs(float(d1(0.0))) < 1e-4  # r'(0) = 0 from both sides
    d2_right = float((r(torch.tensor(2 * h)) - 2 * r(torch.tensor(h)) + r(torch.tensor(0.0))) / h**2)
    assert d2_right == pytest.approx(1.0, abs=1e-3) and r.smoothness == 1


def test_poly_properties_from_coefficients():
    assert nets.poly([0, 1, 0, 1]).strictly_increasing  # t + t^3
    assert not nets.poly([0, -1, 0, 1]).strictly_increasing  # t^3 - t
    assert nets.poly([1, 0, 1]).degree == 2 and nets.poly([1, 0, 1]).value_at_zero == 1
    with pytest.raises(InvalidParameterError):
        nets.poly([0, 0])
    with pytest.raises(InvalidParameterError, match="Unknown activation"):
        nets.get_activation("swishy")


def test_mlp_parameter_count_matches_cooper_formula():
    for a, b, m, depth in [(2, 1, 3, 4), (3, 2, 5, 3), (10, 2, 7, 5)]:
        widths = [a] + [m] * (depth - 1) + [b]
        d = sum(p.numel() for p in nets.mlp(widths).parameters())
        assert d == (depth - 2) * m * m + (depth + a + b - 1) * m + b


def test_two_layer_layout_and_forward():
    net = nets.two_layer(4, 3, "relu")
    x = torch.randn(5, 3, dtype=torch.float64)
    assert [n for n, _ in net.named_parameters()] == ["W", "v"]
    assert torch.allclose(net(x), torch.relu(x @ net.W.T) @ net.v)


def test_skip_to_output_adds_selected_hidden_neurons():
    base = nets.mlp([3, 4, 5, 2], "sigmoid")
    net = nets.skip_to_output(base, 3, seed=1)
    x = torch.randn(6, 3, dtype=torch.float64)
    _, hidden = base.forward_hidden(x)
    psi = torch.cat(hidden, 1)[:, net.skip_index]
    assert torch.allclose(net(x), base(x) + psi @ net.V.T)
    with pytest.raises(InvalidParameterError):
        nets.skip_to_output(base, 10)


def test_conv_net_first_layer_has_36_neurons_per_filter_on_digits_shape():
    net = nets.conv_net(channels=4, pool=2)
    land = Landscape(net, (torch.randn(7, 64), torch.arange(7) % 10), loss="ce")
    assert land.features(land.theta0, 1).shape == (7, 36 * 4)


def test_losses_closed_forms():
    out = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([1])
    assert float(nets.multiclass_hinge()(out, y)) == pytest.approx(3.0 + 0.0)  # (1+2-0) + max(0, 1-1-0)
    ce = float(nets.cross_entropy()(out, y))
    assert ce == pytest.approx(-math.log(1 / (math.exp(2) + 1 + math.exp(-1))))
    z = torch.tensor([[0.5]], dtype=torch.float64)
    s = torch.tensor([-1.0], dtype=torch.float64)
    assert float(nets.logistic()(z, s)) == pytest.approx(math.log(1 + math.exp(0.5)))
    assert float(nets.polynomial_hinge(3)(z, s)) == pytest.approx(1.5 ** 3)
    assert float(nets.squared(half=True)(z, torch.tensor([[1.5]]))) == pytest.approx(0.5)
