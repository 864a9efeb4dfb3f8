"""Exact and bound certificates for a user's nn.Sequential of Linear layers and known activations."""

import numpy as np
import torch
from torch import nn

from valleys import Landscape
from valleys.nets import mlp
from valleys.nets.netspec import net_spec
from valleys.paths import certify, linear

torch.set_num_threads(1)
D = torch.float64


def _data(n=7, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=D), torch.randn(n, generator=g, dtype=D)


def _pair(act_torch, act_name, widths=(2, 4, 3, 1), seed=0):
    """A torch nn.Sequential and the valleys MLP with the same weights (same flat theta order)."""
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(act_torch())
    seq = nn.Sequential(*layers).double()
    net = mlp(list(widths), act_name, seed=seed).double()
    with torch.no_grad():
        lin = [m for m in seq if isinstance(m, nn.Linear)]
        for k, m in enumerate(lin, 1):
            getattr(net, f"W{k}").copy_(m.weight)
            getattr(net, f"b{k}").copy_(m.bias)
    X, Y = _data(d=widths[0])
    return Landscape(seq, (X, Y), loss="mse"), Landscape(net, (X, Y), loss="mse")


def test_sequential_relu_gets_the_same_exact_certificate_as_the_valleys_mlp():
    land_seq, land_mlp = _pair(nn.ReLU, "relu")
    assert torch.equal(land_seq.theta0, land_mlp.theta0)
    g = torch.Generator().manual_seed(3)
    b = land_seq.theta0 + torch.randn(land_seq.dim, generator=g, dtype=D)
    path = linear(land_seq.theta0, b)
    level = float(land_seq.loss(land_seq.theta0)) + 1.0
    for claim, kw in (("nonincreasing", {}), ("sublevel", {"level": level})):
        c_seq = certify(path, land_seq, claim=claim, **kw)
        c_mlp = certify(path, land_mlp, claim=claim, **kw)
        assert c_seq.kind == c_mlp.kind == "exact"
        assert c_seq.holds == c_mlp.holds
        np.testing.assert_array_equal(c_seq.pieces[["t0", "t1"]].to_numpy(), c_mlp.pieces[["t0", "t1"]].to_numpy())
        assert c_seq.max_value == c_mlp.max_value and c_seq.max_rise == c_mlp.max_rise
    # independent: the exact maximum bounds dense samples and is attained up to the sampling gap
    t = torch.linspace(0, 1, 20001, dtype=D)
    vals = land_seq.losses(path(t))
    assert float(vals.max()) <= c_seq.max_value + 1e-12
    assert float(vals.max()) >= c_seq.max_value - 1e-3 * max(1.0, c_seq.max_value)


def test_monotone_and_rising_paths_are_decided_exactly():
    # f(x) = w2 . relu(W1 x + b1) + b2; scaling the output layer (w2, b2) to 0 along t gives
    # outputs (1 - t) f and L(t) = mean((1 - t) f - y)^2 with y = 0: (1 - t)^2 L(0), monotone.
    seq = nn.Sequential(nn.Linear(2, 5), nn.LeakyReLU(0.2), nn.Linear(5, 1)).double()
    X, _ = _data()
    land = Landscape(seq, (X, torch.zeros(len(X), dtype=D)), loss="mse")
    a = land.theta0
    b = a.clone()
    lay = land.layout
    b[lay.slice("2.weight")] = 0.0
    b[lay.slice("2.bias")] = 0.0
    down = certify(linear(a, b), land)
    assert down.kind == "exact" and down.holds is True
    up = certify(linear(b, a), land)
    assert up.kind == "exact" and up.holds is False
    # the rise is exactly L(a) - L(b) = L(a)
    assert abs(up.max_rise - float(land.loss(a))) <= 1e-12 * max(1.0, float(land.loss(a)))
    # a path that moves the hidden layer too, checked against dense sampling
    g = torch.Generator().manual_seed(1)
    c = a + 0.5 * torch.randn(land.dim, generator=g, dtype=D)
    cert = certify(linear(a, c), land)
    vals = land.losses(linear(a, c)(torch.linspace(0, 1, 20001, dtype=D))).numpy()
    sampled_rise = float(np.max(vals - np.minimum.accumulate(vals)))
    assert cert.kind == "exact"
    assert cert.max_rise >= sampled_rise - 1e-12
    assert cert.holds == (cert.max_rise <= cert.tol)


def test_smooth_sequential_gets_the_bound_certificate_of_the_mlp():
    land_seq, land_mlp = _pair(nn.Tanh, "tanh", widths=(2, 3, 1))
    b = land_seq.theta0 * 0.5
    c_seq = certify(linear(land_seq.theta0, b), land_seq, claim="sublevel", level=10.0)
    c_mlp = certify(linear(land_mlp.theta0, b), land_mlp, claim="sublevel", level=10.0)
    assert c_seq.kind == c_mlp.kind == "bound"
    np.testing.assert_allclose(c_seq.pieces["M"].to_numpy(), c_mlp.pieces["M"].to_numpy(), rtol=1e-12)
    assert c_seq.holds == c_mlp.holds


def test_other_modules_stay_sampled():
    X, Y = _data(d=4)
    cases = [
        nn.Sequential(nn.Linear(4, 3), nn.GELU(), nn.Linear(3, 1)),            # no derivative bounds known here
        nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1), nn.ReLU()),  # activation after the last layer
        nn.Sequential(nn.Linear(4, 3), nn.Softplus(), nn.Linear(3, 1)),         # threshold 20: a jump
        nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.ReLU(), nn.Linear(3, 1)),
    ]
    for model in cases:
        land = Landscape(model.double(), (X, Y), loss="mse")
        assert net_spec(land) is None
        c = certify(linear(land.theta0, 0.5 * land.theta0), land)
        assert c.kind == "sampled" and c.holds is not True
    conv = nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1)).double()
    land = Landscape(conv, (torch.randn(5, 1, 6, dtype=D), torch.randn(5, dtype=D)), loss="mse")
    assert net_spec(land) is None
    # a frozen layer is not in theta: refused
    frozen = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    frozen[0].weight.requires_grad_(False)
    assert net_spec(Landscape(frozen, (X, Y), loss="mse")) is None
    # an output selector that changes the outputs: refused by the reproduction check
    land = Landscape(nn.Sequential(nn.Linear(4, 2)).double(), (X, Y), loss="mse", output=lambda o: o[:, :1] * 2)
    assert net_spec(land) is None
    # Identity, Flatten() first and nested Sequentials are understood
    ok = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 3), nn.ReLU()), nn.Identity(), nn.Linear(3, 1))
    land = Landscape(ok.double(), (X, Y), loss="mse")
    spec = net_spec(land)
    assert spec is not None and spec.weights == ("1.0.weight", "3.weight")
    assert certify(linear(land.theta0, 0.5 * land.theta0), land).kind == "exact"


def test_leaky_slopes_outside_0_1_and_other_smooth_modules():
    X, Y = _data(d=3)
    g = torch.Generator().manual_seed(7)
    for slope in (-0.5, 2.0):
        land = Landscape(nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(slope), nn.Linear(4, 1)).double(), (X, Y),
                         loss="mse")
        b = land.theta0 + torch.randn(land.dim, generator=g, dtype=D)
        path = linear(land.theta0, b)
        c = certify(path, land, claim="sublevel", level=1e6)
        assert c.kind == "exact" and c.holds is True
        vals = land.losses(path(torch.linspace(0, 1, 20001, dtype=D)))
        # the exact maximum is above every sample and attained up to the sampling gap
        assert float(vals.max()) <= c.max_value + 1e-12 <= float(vals.max()) + 1e-3 * max(1.0, c.max_value)
    for act, name in ((nn.Sigmoid, "sigmoid"), (nn.ELU, "elu")):
        land_seq, land_mlp = _pair(act, name, widths=(2, 3, 1))
        p = linear(land_seq.theta0, 0.5 * land_seq.theta0)
        c_seq, c_mlp = certify(p, land_seq), certify(p, land_mlp)
        assert c_seq.kind == c_mlp.kind == "bound" and c_seq.holds == c_mlp.holds
        np.testing.assert_allclose(c_seq.pieces["M"].to_numpy(), c_mlp.pieces["M"].to_numpy(), rtol=1e-12)


def _torch_loss_case(act, loss, targets, outputs=2, seed=3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(9, 3, generator=g, dtype=D)
    Y = (torch.randn(9, outputs, generator=g, dtype=D) if targets == "real"
         else torch.randint(0, outputs, (9,), generator=g))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 5), act(), nn.Linear(5, outputs)).double()
    land = Landscape(model, (X, Y), loss=loss)
    return land, linear(land.theta0, 0.3 * land.theta0 + 0.1)


def test_torch_loss_modules_get_the_certificate_of_the_equal_valleys_loss():
    """nn.MSELoss / nn.CrossEntropyLoss certify like 'mse' / 'ce' (issue 18, item 16): same kind, and the
    same maximum up to MSELoss's 1/m per sample."""
    cases = [(nn.ReLU, "real", "mse", nn.MSELoss(), 0.5), (nn.ReLU, "real", "mse", nn.MSELoss(reduction="sum"), 1.0),
             (nn.Tanh, "class", "ce", nn.CrossEntropyLoss(), 1.0)]
    for act, targets, name, module, factor in cases:
        land, path = _torch_loss_case(act, name, targets)
        ref = certify(path, land, claim="sublevel", level=10.0)
        scale = factor * (9 if module.reduction == "sum" else 1)  # a sum module keeps the landscape's sum
        land_t, _ = _torch_loss_case(act, module, targets)
        got = certify(path, land_t, claim="sublevel", level=10.0 * scale)
        assert ref.kind in ("exact", "bound") and got.kind == ref.kind, (module, got.note)
        assert got.holds == ref.holds
        np.testing.assert_allclose(got.max_value, scale * ref.max_value, rtol=1e-10)


def test_an_unrecognised_loss_says_why_its_certificate_is_only_sampled():
    land, path = _torch_loss_case(nn.ReLU, lambda f, y: ((f - y) ** 2).sum(1), "real")
    cert = certify(path, land, claim="sublevel", level=10.0)
    assert cert.kind == "sampled" and "user callable" in cert.note and "not a valleys MLP" not in cert.note
    land, path = _torch_loss_case(nn.ReLU, nn.L1Loss(), "real")
    cert = certify(path, land, claim="sublevel", level=10.0)
    assert cert.kind == "sampled" and "'L1Loss' (a torch loss module with no valleys equivalent" in cert.note
    land, path = _torch_loss_case(nn.Tanh, nn.CrossEntropyLoss(label_smoothing=0.1), "class")
    cert = certify(path, land, claim="sublevel", level=10.0)
    assert cert.kind == "sampled" and "'CrossEntropyLoss' (a torch loss module with no valleys equivalent" in cert.note
