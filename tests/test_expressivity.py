"""valleys.expressivity: Press rank on planted ranks, NG-A1/A2 constructions, NG-L2.4.9, skip nets."""

import math

import numpy as np
import pytest
import torch

from valleys import InvalidParameterError, Landscape, nets
from valleys.expressivity import (
    feature_rank,
    features_of,
    matrix_feature_rank,
    psi_matrix,
    psi_rank,
    skip_net,
)
from valleys.expressivity.features import fc_forward
from valleys.expressivity.skip import truncated_normal
from valleys.literature.nguyen2019 import (
    gradient_bounds,
    independent_conv_features,
    independent_features,
    inverse_activation,
    zero_loss_construction,
)

torch.set_num_threads(1)


def _planted(n, m, rank, smallest, seed=0):
    g = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(n, rank, generator=g, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(m, rank, generator=g, dtype=torch.float64))[0]
    s = torch.logspace(0, math.log10(smallest), rank, dtype=torch.float64)
    return U @ torch.diag(s) @ V.T, s


@pytest.mark.parametrize(("n", "m", "rank"), [(30, 50, 30), (40, 25, 12), (20, 20, 1)])
def test_press_rank_recovers_planted_rank_and_singular_values(n, m, rank):
    A, s = _planted(n, m, rank, 1e-6)
    r = matrix_feature_rank(A)
    assert r.rank == rank and r.full == (rank == min(n, m))
    assert r.threshold == pytest.approx(0.5 * math.sqrt(n + m + 1) * float(s[0]) * np.finfo(np.float64).eps)
    assert r.sigma_max == pytest.approx(1.0)
    assert r.sigma_min == pytest.approx(1e-6 if rank == min(n, m) else 0.0, abs=1e-12)


def test_feature_rank_through_the_landscape_equals_hand_computed_features():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(12, 4, generator=g, dtype=torch.float64)
    net = nets.mlp([4, 20, 3], "sigmoid", seed=2)
    F = torch.sigmoid(X @ net.W1.detach().double().T + net.b1.detach().double())
    assert torch.allclose(features_of(net, X, 1), F, atol=1e-15)
    land = Landscape(net, (X, torch.zeros(12, 3, dtype=torch.float64)))
    assert feature_rank(land, land.theta0, 1).rank == 12


@pytest.mark.parametrize("act", ["sigmoid", "relu", "softplus"])
def test_ng_a1_fc_construction_is_triangular_in_the_limit(act):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(15, 4, generator=g, dtype=torch.float64)
    r = independent_features(X, 18, act, scale=40.0, beta=1.0, seed=4)
    sigma = nets.get_activation(act)
    s_beta = float(sigma(torch.tensor(1.0, dtype=torch.float64)))
    assert torch.allclose(r.square.diagonal(), torch.full((15,), s_beta, dtype=torch.float64), rtol=1e-9)
    assert r.lower_max <= float(sigma(torch.tensor(1.0 - 40.0, dtype=torch.float64))) * (1 + 1e-9)
    assert sorted(r.order.tolist()) == list(range(15))
    if act == "sigmoid":  # bounded: the features converge to the closed-form 0 / sigma(beta) / 1 pattern
        assert matrix_feature_rank(r.features).rank == 15
        assert torch.allclose(r.features, r.limit(act), atol=1e-12)


def test_ng_a1_conv_construction_has_rank_n_and_linear_control_does_not():
    g = torch.Generator().manual_seed(5)
    X = torch.rand(30, 36, generator=g, dtype=torch.float64)  # 6x6 images, 3x3 patches: P = 16
    r = independent_conv_features(X, (1, 6, 6), 3, 2, "sigmoid", scale=30.0, seed=6)
    assert r.features.shape == (30, 32) and matrix_feature_rank(r.features).rank == 30
    lin = independent_features(X, 30, "identity", scale=30.0, seed=6)
    assert matrix_feature_rank(lin.features).rank <= 36 + 1
    X2 = torch.randn(50, 3, generator=g, dtype=torch.float64)
    assert matrix_feature_rank(independent_features(X2, 50, "identity", seed=1).features).rank <= 4


def test_ng_a1_refuses_narrow_layers_and_repeated_samples():
    X = torch.randn(6, 3, dtype=torch.float64)
    with pytest.raises(InvalidParameterError, match="neurons"):
        independent_features(X, 5)
    with pytest.raises(InvalidParameterError, match="2.4.1"):
        independent_features(torch.cat([X, X[:1]]), 8)
    with pytest.raises(InvalidParameterError, match="sigma"):
        independent_features(X, 8, "relu", beta=-1.0)


@pytest.mark.parametrize("act", ["sigmoid", "softplus"])
@pytest.mark.parametrize(("widths", "k"), [([5, 25, 3], 1), ([5, 26, 7, 3], 1), ([5, 9, 24, 6, 4, 3], 2)])
def test_ng_a2_reaches_zero_loss_with_full_rank_conditions(act, widths, k):
    g = torch.Generator().manual_seed(7)
    X = torch.randn(22, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (22,), generator=g)
    z = zero_loss_construction(X, y, widths, k, act, seed=8)
    Y = torch.eye(3, dtype=torch.float64)[y]
    _, Fs = fc_forward(X, z.weights, z.biases, act)  # an independent forward pass
    assert float((Fs[-1] - Y).abs().max()) <= 1e-8 and z.residual <= 1e-8
    assert z.rank_Fk == 22 and all(r == full for r, full in z.ranks_U)


def test_ng_a2_refuses_narrow_or_non_pyramidal_nets():
    X, y = torch.randn(10, 3, dtype=torch.float64), torch.arange(10) % 2
    with pytest.raises(InvalidParameterError, match="n_k >= N"):
        zero_loss_construction(X, y, [3, 8, 2], 1)
    with pytest.raises(InvalidParameterError, match="n_k >= N"):
        zero_loss_construction(X, y, [3, 12, 4, 6, 2], 1)
    with pytest.raises(InvalidParameterError, match="invertible"):
        zero_loss_construction(X, y, [3, 12, 2], 1, "relu")


@pytest.mark.parametrize("act", ["sigmoid", "softplus"])
def test_inverse_activation_round_trips(act):
    t = torch.linspace(0.05, 0.95, 11, dtype=torch.float64)
    assert torch.allclose(nets.get_activation(act)(inverse_activation(act, t)), t, atol=1e-14)
    sp = nets.softplus(20.0)
    assert torch.allclose(sp(inverse_activation(sp, t)), t, atol=1e-13)


def test_gradient_bounds_hold_and_match_autograd():
    g = torch.Generator().manual_seed(9)
    for act in ("sigmoid", "softplus"):
        widths, k = [3, 10, 7, 4, 2], 1  # n_1 >= N = 8, pyramidal top
        X = torch.randn(8, 3, generator=g, dtype=torch.float64)
        Y = torch.randn(8, 2, generator=g, dtype=torch.float64)
        Ws = [torch.randn(a, b, generator=g, dtype=torch.float64)
              for a, b in zip(widths[:-1], widths[1:], strict=True)]
        bs = [torch.randn(b, generator=g, dtype=torch.float64) for b in widths[1:]]
        gb = gradient_bounds(X, Y, Ws, bs, act, k)
        W = Ws[k].clone().requires_grad_(True)
        Fs = fc_forward(X, Ws[:k] + [W] + Ws[k + 1:], bs, act)[1]
        norm = float(torch.autograd.grad(0.5 * ((Fs[-1] - Y) ** 2).sum(), W)[0].norm())
        assert gb.grad_norm == pytest.approx(norm, rel=1e-12)
        assert gb.lower <= norm <= gb.upper and gb.lower > 0


def test_skip_psi_has_rank_n_on_random_u_and_equals_the_hidden_neurons():
    g = torch.Generator().manual_seed(10)
    X = torch.rand(40, 6, generator=g, dtype=torch.float64)
    for act in ("sigmoid", nets.softplus(20.0)):
        net = skip_net([6, 30, 30, 3], act, 40, seed=11)
        psi = psi_matrix(net, X)
        hidden = torch.cat(net.base.double().forward_hidden(X)[1], 1)
        assert torch.equal(psi, hidden[:, net.skip_index])
        r = psi_rank(net, X)
        assert r.rank == 40 and r.full
    # least squares in V gives zero training loss when rank Psi = N (NG-T4.3.4 (1))
    Y = torch.randn(40, 3, generator=g, dtype=torch.float64)
    V = torch.linalg.lstsq(psi, Y).solution
    assert float((psi @ V - Y).abs().max()) < 1e-8


def test_keras_truncated_normal_is_cut_at_two_standard_deviations():
    g = torch.Generator().manual_seed(12)
    x = truncated_normal((20000,), 0.5, g)
    assert float(x.abs().max()) <= 1.0
    # the std of N(0, 1) truncated at +-2 is 0.8796
    assert float(x.std()) == pytest.approx(0.5 * 0.8796, rel=0.02)


def test_spread_by_layer_is_zero_where_a_layer_ignores_its_input():
    """Zeroing layer 2's weights makes layers 2 and 3 give every sample the same vector: their
    spread is exactly 0; layer 1's equals ||H - mean|| / ||H|| computed by hand."""
    from valleys.experiments.d004_nguyen._shared import _spread_by_layer
    from valleys.expressivity import skip_stack
    from valleys.nets import get_activation

    X = torch.randn(12, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    stack = skip_stack([5, 4, 4, 4, 2], get_activation("tanh"), 6, [0, 1])
    stack.params["W2"] = torch.zeros_like(stack.params["W2"])
    _, hs = stack.forward(X, hidden=True)
    spread = _spread_by_layer(hs)
    H = hs[0]
    by_hand = max(float((H[j] - H[j].mean(0)).norm() / H[j].norm()) for j in range(2))
    assert spread[0] == pytest.approx(by_hand, rel=1e-12) and spread[0] > 0.1
    assert spread[1] == 0.0 and spread[2] == 0.0
