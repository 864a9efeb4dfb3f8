"""Issue 6, core half: each finding reproduced as a test (losses, shapes, batching, frozen, errors, devices).

Every value is compared with an independent plain-torch computation on the same model and data.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from valleys import DataError, InvalidParameterError, Landscape, ModelError, ShapeError, ValleysError, nets
from valleys.core import batching

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")
torch.manual_seed(0)
DT = torch.float64


def data(n=30, din=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, din, generator=gen, dtype=DT), gen


def mlp(din=5, dout=3, seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(din, 7), nn.Tanh(), nn.Linear(7, dout)).double()


def theta_of(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


# ----------------------------------------------------------------------- finding 1: loss modules
REGRESSION_MODULES = [nn.MSELoss(), nn.L1Loss(), nn.HuberLoss(delta=0.3), nn.SmoothL1Loss(beta=0.2),
                      nn.MSELoss(reduction="sum")]


@pytest.mark.parametrize("module", REGRESSION_MODULES, ids=lambda m: f"{type(m).__name__}-{m.reduction}")
def test_regression_loss_modules_equal_torch(module):
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    model = mlp()
    land = Landscape(model, (X, Y), loss=module)
    theta = theta_of(model) + 0.1 * torch.randn(land.dim, generator=gen, dtype=DT)
    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    expected = module(model(X), Y).detach()
    assert float(land.loss(theta)) == pytest.approx(float(expected), rel=1e-12, abs=1e-14)
    g = torch.autograd.grad(module(model(X), Y), list(model.parameters()))
    assert torch.allclose(land.grad(theta), torch.cat([t.reshape(-1) for t in g]), rtol=1e-10, atol=1e-13)


def test_mse_module_is_not_n_times_too_small_and_named_mse_is_m_times_torch():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    model = mlp()
    expected = F.mse_loss(model(X), Y).detach()
    assert float(Landscape(model, (X, Y), loss=nn.MSELoss()).loss(theta_of(model))) == pytest.approx(
        float(expected), rel=1e-12)
    assert float(Landscape(model, (X, Y), loss="mse").loss(theta_of(model))) == pytest.approx(
        3 * float(expected), rel=1e-12)


@pytest.mark.parametrize("module", [nn.CrossEntropyLoss(), nn.CrossEntropyLoss(label_smoothing=0.1),
                                    nn.MultiMarginLoss(), nn.CrossEntropyLoss(reduction="sum")],
                         ids=["ce", "ce-smooth", "multimargin", "ce-sum"])
def test_classification_loss_modules_equal_torch(module):
    X, gen = data()
    y = torch.randint(0, 3, (30,), generator=gen)
    model = mlp()
    land = Landscape(model, (X, y), loss=module)
    assert float(land.loss(theta_of(model))) == pytest.approx(float(module(model(X), y)), rel=1e-12)


def test_cross_entropy_with_probabilities_and_bce_with_logits_equal_torch():
    X, gen = data()
    P = torch.softmax(torch.randn(30, 3, generator=gen, dtype=DT), 1)
    model = mlp()
    land = Landscape(model, (X, P), loss=nn.CrossEntropyLoss())
    assert float(land.loss(theta_of(model))) == pytest.approx(float(nn.CrossEntropyLoss()(model(X), P)), rel=1e-12)
    B = (torch.rand(30, 3, generator=gen) > 0.5).double()
    land = Landscape(model, (X, B), loss=nn.BCEWithLogitsLoss())
    assert float(land.loss(theta_of(model))) == pytest.approx(float(nn.BCEWithLogitsLoss()(model(X), B)), rel=1e-12)
    one = mlp(dout=1)
    b = B[:, 0]  # (N,) targets of a one-output model: unambiguous, reshaped to (N, 1)
    land = Landscape(one, (X, b), loss=nn.BCEWithLogitsLoss())
    assert float(land.loss(theta_of(one))) == pytest.approx(
        float(nn.BCEWithLogitsLoss()(one(X), b[:, None])), rel=1e-12)


def test_batches_of_a_loss_module_average_like_the_full_batch():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    model = mlp()
    land = Landscape(model, [(X[:10], Y[:10]), (X[10:], Y[10:])], loss=nn.MSELoss())
    assert float(land.loss(theta_of(model))) == pytest.approx(float(nn.MSELoss()(model(X), Y)), rel=1e-12)


def test_named_losses_equal_their_documented_torch_equivalents():
    gen = torch.Generator().manual_seed(3)
    f = torch.randn(9, 4, generator=gen, dtype=DT)
    y = torch.randint(0, 4, (9,), generator=gen)
    assert torch.allclose(nets.multiclass_hinge()(f, y).mean(), 4 * F.multi_margin_loss(f, y))
    s = torch.randint(0, 2, (9,), generator=gen).double() * 2 - 1
    assert torch.allclose(nets.logistic()(f[:, :1], s).mean(), F.soft_margin_loss(f[:, 0], s))


def test_scalar_returning_callable_is_refused_with_one_line():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    with pytest.raises(InvalidParameterError, match="per-sample") as err:
        Landscape(mlp(), (X, Y), loss=lambda out, y: ((out - y) ** 2).mean())
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidParameterError, match="instance"):
        Landscape(mlp(), (X, Y), loss=nn.MSELoss)


def test_weighted_cross_entropy_mean_is_refused_and_sum_is_exact():
    X, gen = data()
    y = torch.randint(0, 3, (30,), generator=gen)
    w = torch.tensor([1.0, 2.0, 0.5], dtype=DT)
    with pytest.raises(InvalidParameterError, match="weight"):
        Landscape(mlp(), (X, y), loss=nn.CrossEntropyLoss(weight=w))
    model = mlp()
    module = nn.CrossEntropyLoss(weight=w, reduction="sum")
    land = Landscape(model, (X, y), loss=module)
    assert land.reduction == "sum"
    assert float(land.loss(theta_of(model))) == pytest.approx(float(module(model(X), y)), rel=1e-12)


# ------------------------------------------------------------------- findings 2 and 9: shapes, errors
def test_mismatched_targets_are_refused_naming_both_shapes():
    X, gen = data()
    with pytest.raises(ShapeError, match=r"\(30,\).*\(30, 2\)"):
        Landscape(mlp(dout=2), (X, torch.randn(30, generator=gen)))
    with pytest.raises(ShapeError, match=r"\(30, 2\).*\(30, 1\)"):
        Landscape(mlp(dout=1), (X, torch.randn(30, 2, generator=gen)))
    with pytest.raises(ShapeError, match="class labels"):
        Landscape(mlp(dout=10), (X, torch.randint(0, 10, (30,), generator=gen)), loss="mse")
    with pytest.raises(ShapeError, match="class labels"):
        Landscape(mlp(dout=10), (X, torch.randint(0, 10, (30,), generator=gen)), loss=nn.MSELoss())
    with pytest.raises(ShapeError, match=r"\(30, 3\).*\(30, 2\)"):
        Landscape(mlp(dout=2), (X, torch.randn(30, 3, generator=gen)), loss=nn.L1Loss())


@pytest.mark.parametrize("loss", ["ce", nn.CrossEntropyLoss(), nn.NLLLoss()], ids=["ce", "CE-module", "NLL"])
def test_class_labels_out_of_range_or_negative_are_data_errors(loss):
    X, gen = data()
    y = torch.randint(0, 3, (30,), generator=gen)
    y[4] = 3
    with pytest.raises(DataError, match=r"label 3 \(sample 4\).*\[0, 3\)"):
        Landscape(mlp(), (X, y), loss=loss)
    y[4] = -1
    with pytest.raises(DataError, match=r"label -1"):
        Landscape(mlp(), (X, y), loss=loss)


def test_wrong_input_width_is_a_shape_error():
    X, gen = data(din=7)
    with pytest.raises(ShapeError, match=r"\(30, 7\)"):
        Landscape(mlp(din=5), (X, torch.randn(30, 3, generator=gen)))


class TupleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 3)

    def forward(self, x):
        z = self.lin(x)
        return z, torch.tanh(z)


class DictNet(TupleNet):
    def forward(self, x):
        return {"logits": self.lin(x), "hidden": x}


def test_tuple_and_dict_outputs_need_a_selector_and_then_equal_torch():
    X, gen = data()
    y = torch.randint(0, 3, (30,), generator=gen)
    for net, key in ((TupleNet().double(), 0), (DictNet().double(), "logits")):
        with pytest.raises(ModelError, match="output="):
            Landscape(net, (X, y), loss="ce")
        land = Landscape(net, (X, y), loss="ce", output=key)
        raw = net(X)[key]
        assert float(land.loss(theta_of(net))) == pytest.approx(float(F.cross_entropy(raw, y)), rel=1e-12)
    net = DictNet().double()
    land = Landscape(net, (X, y), loss="ce", output=lambda o: o["logits"])
    assert float(land.loss(theta_of(net))) == pytest.approx(float(F.cross_entropy(net(X)["logits"], y)), rel=1e-12)
    with pytest.raises(ModelError, match="keys"):
        Landscape(net, (X, y), loss="ce", output="missing")


def test_model_class_and_parameter_free_loss_are_model_errors():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    with pytest.raises(ModelError, match="instance"):
        Landscape(TupleNet, (X, Y))
    with pytest.raises(ModelError, match="does not depend on any parameter"):
        Landscape(mlp(), (X, Y), loss=lambda out, y: ((out.detach() - y) ** 2).sum(1))


def test_one_output_cross_entropy_and_bad_sign_labels_are_refused():
    X, gen = data()
    with pytest.raises(ShapeError, match="at least 2"):
        Landscape(mlp(dout=1), (X, torch.zeros(30, dtype=torch.long)), loss="ce")
    with pytest.raises(DataError, match=r"\{-1, \+1\}"):
        Landscape(mlp(dout=1), (X, torch.randint(0, 2, (30,), generator=gen).double()), loss="logistic")


def test_every_construction_error_is_a_valleys_error():
    X, gen = data()
    cases = [dict(model=mlp(dout=2), data=(X, torch.randn(30))),
             dict(model=mlp(din=4), data=(X, torch.randn(30, 3))),
             dict(model=TupleNet().double(), data=(X, torch.randn(30, 3))),
             dict(model=mlp(), data=(X, torch.full((30,), 7)), loss=nn.CrossEntropyLoss())]
    for case in cases:
        with pytest.raises(ValleysError):
            Landscape(**case)


# ---------------------------------------------------------------------- finding 8: frozen parameters
def test_frozen_parameters_are_left_out_of_theta_unless_asked():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    model = mlp()
    for p in model[0].parameters():
        p.requires_grad_(False)
    land = Landscape(model, (X, Y), loss=nn.MSELoss())
    assert land.dim == 7 * 3 + 3 and land.frozen == ("0.weight", "0.bias")
    assert land.layout.names == ("2.weight", "2.bias")
    theta = theta_of(model[2])
    assert float(land.loss(theta)) == pytest.approx(float(nn.MSELoss()(model(X), Y)), rel=1e-12)
    g = torch.autograd.grad(nn.MSELoss()(model(X), Y), list(model[2].parameters()))
    assert torch.allclose(land.grad(theta), torch.cat([t.reshape(-1) for t in g]), rtol=1e-10)
    full = Landscape(model, (X, Y), loss=nn.MSELoss(), include_frozen=True)
    assert full.dim == 5 * 7 + 7 + 7 * 3 + 3 and full.frozen == ()
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ModelError, match="include_frozen"):
        Landscape(model, (X, Y))


# --------------------------------------------- finding 6 (equivalence): every batching gives the same values
def medium_landscape(batching):
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(600, 40, generator=gen, dtype=DT)
    y = torch.randint(0, 4, (600,), generator=gen)
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(40, 48), nn.ReLU(), nn.Linear(48, 4)).double()
    return Landscape(model, (X, y), loss=nn.CrossEntropyLoss(), batching=batching), model, X, y


def test_batched_paths_equal_an_independent_loop_for_every_batching():
    ref, model, X, y = medium_landscape("loop")
    assert ref.n_samples * ref.dim > batching.SMALL_WORK  # the regime of the cost rule
    gen = torch.Generator().manual_seed(7)
    thetas = ref.theta0 + 0.05 * torch.randn(73, ref.dim, generator=gen, dtype=DT)  # several chunks
    expected = []
    for t in thetas:
        torch.nn.utils.vector_to_parameters(t, model.parameters())
        expected.append(F.cross_entropy(model(X), y))
    expected = torch.stack(expected).detach()
    V = torch.randn(69, ref.dim, generator=gen, dtype=DT)
    H_rows = torch.stack([ref.hvp(thetas[0], v) for v in V])
    for mode in ("auto", "vmap", "loop"):
        land = medium_landscape(mode)[0]
        assert torch.allclose(land.losses(thetas), expected, rtol=1e-12, atol=0)
        G = land.grads(thetas[:70])
        assert torch.allclose(G, torch.stack([ref.grad(t) for t in thetas[:70]]), rtol=1e-10, atol=1e-14)
        assert torch.allclose(land.hvp_rows(thetas[0])(V), H_rows, rtol=1e-9, atol=1e-13)
        if mode == "auto":
            assert set(land.batch_plans) == {"losses", "grads", "hvp_rows"}


def test_batching_plan_is_a_pure_function_of_n_d_and_chunk_size():
    """The documented rule: chunk_size when N d <= SMALL_WORK; above, min(chunk_size, LARGE_CHUNK,
    CHUNK_WORK // (N d)) points per chunk, a loop when that is 1; "loop"/"vmap" fix the choice."""
    plan = batching.choose_plan
    assert batching.SMALL_WORK == 2**20 and batching.LARGE_CHUNK == 32 and batching.CHUNK_WORK == 2**31
    assert plan("auto", True, 2**20, 512, "vmap") == ("vmap", 512)
    assert plan("auto", False, 2**20 + 1, 512, "vmap") == ("vmap", 32)
    assert plan("auto", False, 2**20 + 1, 8, "functorch") == ("functorch", 8)
    assert plan("auto", False, 2**27, 512, "vmap") == ("vmap", 16)  # 2**31 // 2**27
    assert plan("auto", False, 2**30, 512, "vmap") == ("vmap", 2)
    assert plan("auto", False, 2**30 + 1, 512, "vmap") == ("loop", batching.LOOP_CHUNK)
    assert plan("loop", True, 10, 512, "vmap") == ("loop", batching.LOOP_CHUNK)
    assert plan("vmap", False, 2**40, 512, "functorch") == ("functorch", 512)


def test_batched_numbers_above_small_work_do_not_depend_on_the_clock(monkeypatch):
    """Above SMALL_WORK the route must not come from timings: with a clock that raises, two
    landscapes built alike take the same plans and return bitwise the same numbers."""
    import time

    def no_clock():
        raise AssertionError("the numeric path read the clock")

    gen = torch.Generator().manual_seed(7)
    ref = medium_landscape("auto")[0]
    assert ref.n_samples * ref.dim > batching.SMALL_WORK
    thetas = ref.theta0 + 0.05 * torch.randn(73, ref.dim, generator=gen, dtype=DT)
    V = torch.randn(69, ref.dim, generator=gen, dtype=DT)
    monkeypatch.setattr(time, "perf_counter", no_clock)
    monkeypatch.setattr(time, "monotonic", no_clock)
    results, plans = [], []
    for _ in range(2):
        land = medium_landscape("auto")[0]
        results.append((land.losses(thetas, progress=False), land.grads(thetas[:40], progress=False),
                        land.hvp_rows(thetas[0])(V, progress=False)))
        plans.append(land.batch_plans)
    expected = batching.choose_plan("auto", False, ref.n_samples * ref.dim, ref.chunk_size, "vmap")
    assert expected == ("vmap", 32)
    assert plans[0] == plans[1] == {"losses": expected, "grads": expected, "hvp_rows": ("functorch", 32)}
    for first, second in zip(*results, strict=True):
        assert torch.equal(first, second)


def test_dense_hessian_equals_torch_autograd_functional_hessian_on_a_cnn():
    gen = torch.Generator().manual_seed(8)
    X = torch.randn(40, 1, 6, 6, generator=gen, dtype=DT)
    y = torch.randint(0, 3, (40,), generator=gen)
    torch.manual_seed(9)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3)).double()
    land = Landscape(model, (X, y), loss=nn.CrossEntropyLoss())
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def f(theta):
        params, i = {}, 0
        for n, s in zip(names, shapes, strict=True):
            params[n] = theta[i:i + s.numel()].reshape(s)
            i += s.numel()
        return F.cross_entropy(torch.func.functional_call(model, params, (X,)), y)

    theta = land.theta0
    H_torch = torch.autograd.functional.hessian(f, theta)
    for mode in ("auto", "loop", "vmap"):
        land = Landscape(model, (X, y), loss=nn.CrossEntropyLoss(), batching=mode)
        assert torch.allclose(land.hessian(theta, progress=False), H_torch, rtol=1e-10, atol=1e-12)


def test_batching_is_checked():
    X, gen = data()
    with pytest.raises(InvalidParameterError, match="batching"):
        Landscape(mlp(), (X, torch.randn(30, 3)), batching="fast")


# ------------------------------------------------------------------------ finding 11: devices
def test_device_cpu_keeps_everything_on_cpu_and_equals_default():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    a = Landscape(mlp(), (X, Y), device="cpu")
    b = Landscape(mlp(), (X, Y))
    assert a.device == torch.device("cpu") and a.theta0.device.type == "cpu"
    assert all(t.device.type == "cpu" for batch in a.batches for t in batch)
    assert torch.equal(a.loss(a.theta0), b.loss(b.theta0))
    with pytest.raises(InvalidParameterError, match="device"):
        Landscape(mlp(), (X, Y), device="no-such-device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    X, gen = data()
    with pytest.raises(InvalidParameterError, match="no CUDA device"):
        Landscape(mlp(), (X, torch.randn(30, 3)), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch.cuda.is_available() is False)")
def test_cuda_landscape_runs_on_the_gpu_and_equals_cpu():
    X, gen = data()
    Y = torch.randn(30, 3, generator=gen, dtype=DT)
    cpu = Landscape(mlp(), (X, Y), loss=nn.MSELoss())
    gpu = Landscape(mlp(), (X, Y), loss=nn.MSELoss(), device="cuda")
    assert all(t.is_cuda for batch in gpu.batches for t in batch) and gpu.theta0.is_cuda
    theta = cpu.theta0
    assert gpu.loss(theta).is_cuda
    assert torch.allclose(gpu.loss(theta).cpu(), cpu.loss(theta), rtol=1e-12)
    assert torch.allclose(gpu.grad(theta).cpu(), cpu.grad(theta), rtol=1e-10)
    assert torch.allclose(gpu.hessian(theta).cpu(), cpu.hessian(theta), rtol=1e-9, atol=1e-12)
    thetas = theta + 0.1 * torch.randn(80, cpu.dim, dtype=DT)
    assert torch.allclose(gpu.losses(thetas).cpu(), cpu.losses(thetas), rtol=1e-10)


# ----------------------------------------------------------------------- finding 10: progress bars
def test_progress_true_writes_a_bar_to_stderr_and_default_is_silent(capsys):
    X, gen = data()
    land = Landscape(mlp(), (X, torch.randn(30, 3, generator=gen, dtype=DT)))
    land.hessian(land.theta0, progress=True)
    assert "Hessian rows" in capsys.readouterr().err
    land.hessian(land.theta0)
    land.losses(land.theta0 + torch.zeros(5, land.dim, dtype=DT))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_plane_with_the_first_layer_factored_out_equals_losses_at_the_grid_points(kind):
    from valleys.core.plane import first_affine_layer, plane_losses

    gen = torch.Generator().manual_seed(12)
    torch.manual_seed(13)
    if kind == "mlp":
        X = torch.randn(500, 40, generator=gen, dtype=DT)
        model = nn.Sequential(nn.Linear(40, 64), nn.Tanh(), nn.Linear(64, 3)).double()
    else:
        X = torch.randn(500, 2, 8, 8, generator=gen, dtype=DT)
        model = nn.Sequential(nn.Conv2d(2, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(288, 3)).double()
    y = torch.randint(0, 3, (500,), generator=gen)
    land = Landscape(model, (X, y), loss=nn.CrossEntropyLoss())
    assert first_affine_layer(land, 0)[0] == "0"
    c = land.theta0
    u, v = (0.1 * torch.randn(land.dim, generator=gen, dtype=DT) for _ in range(2))
    a, b = torch.linspace(-1, 1, 4, dtype=DT), torch.linspace(-2, 1, 3, dtype=DT)
    A, B = torch.meshgrid(a, b, indexing="ij")
    expected = torch.stack([F.cross_entropy(torch.func.functional_call(
        model, dict(zip([n for n, _ in model.named_parameters()],
                        [blk for blk in land.layout.unflatten(t).values()], strict=True)), (X,)), y)
        for t in c + A.reshape(-1, 1) * u + B.reshape(-1, 1) * v]).reshape(4, 3)
    assert torch.allclose(plane_losses(land, c, u, v, a, b, min_fan_in=0), expected, rtol=1e-12)
    assert torch.allclose(land.plane(c, u, v, a, b), expected, rtol=1e-12)
    assert torch.allclose(land.loss(c), F.cross_entropy(model(X), y), rtol=1e-14)  # the copy is not disturbed
