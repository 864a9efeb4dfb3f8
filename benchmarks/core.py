"""Benchmark of the landscape core: vectorised batches vs Python loops, HVP vs gradient.

Each pair is measured in the same run and written as a ratio to
``benchmarks/results/core.json``. Targets (issue "Foundation"):

- ``losses(Thetas)`` for 10,000 parameter vectors of a two-layer ReLU net (d = 20,
  width 16, N = 40) vs a Python loop over ``loss(theta)``: at least 20x;
- gradients of 2,000 parameter vectors: at least 50x (against a loop over
  ``Landscape.grad``; a loop over ``torch.func.grad`` is reported too);
- HVP time / gradient time on an MLP 64-32-32-10 with N = 512: at most 2.5.

Targets of issue 6 (trustworthy numbers, batched speed):

- dense Hessian of a CNN Conv2d(1,4,3)-ReLU-Linear on digits (d = 1490, N = 1797, float64):
  valleys / ``torch.autograd.functional.hessian`` time at most 0.8;
- losses on a 51 x 51 plane of an MLP 64-128-128-10 on digits (N = 1797): at least 1.5x
  the points per second of ``loss_landscapes.random_plane`` in float32 (values equal to
  1e-5 relative), and at least 1x valleys' own per-point loop in float64.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import time_call, time_interleaved, write_result  # noqa: E402

from valleys import Landscape, nets  # noqa: E402


def two_layer_landscape() -> Landscape:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 20, generator=gen, dtype=torch.float64)
    teacher = nets.two_layer(16, 20, "relu", seed=1)
    with torch.no_grad():
        Y = teacher.double()(X)
    return Landscape(nets.two_layer(16, 20, "relu", seed=2), (X, Y))  # default chunk_size: intermediates stay in cache


def bench_batches(land: Landscape, n_losses: int = 10_000, n_grads: int = 2_000) -> dict:
    gen = torch.Generator().manual_seed(3)
    thetas = torch.randn(n_losses, land.dim, generator=gen, dtype=torch.float64)
    sub = thetas[:n_grads]
    vec_loss = time_call(lambda: land.losses(thetas), repeat=5)
    loop_loss = time_call(lambda: [land.loss(t) for t in thetas], repeat=1)
    vec_grad = time_call(lambda: land.grads(sub), repeat=5)
    loop_grad = time_call(lambda: [land.grad(t) for t in sub], repeat=1)
    func_grad = torch.func.grad(land.loss)
    loop_func = time_call(lambda: [func_grad(t) for t in sub], repeat=1)
    assert torch.allclose(land.losses(thetas[:50]), torch.stack([land.loss(t) for t in thetas[:50]]))
    return {
        "losses": {"n": n_losses, "d": land.dim, "vectorised_s": vec_loss, "loop_s": loop_loss,
                   "speedup": loop_loss / vec_loss, "target": ">= 20"},
        "grads": {"n": n_grads, "d": land.dim, "vectorised_s": vec_grad, "loop_s": loop_grad,
                  "speedup": loop_grad / vec_grad, "target": ">= 50",
                  "loop_torch_func_grad_s": loop_func, "speedup_vs_torch_func_loop": loop_func / vec_grad,
                  "note": "loop_s loops over Landscape.grad (plain autograd, the fastest single-point "
                          "gradient); loop_torch_func_grad_s loops over torch.func.grad(land.loss)"},
    }


def bench_hvp() -> dict:
    gen = torch.Generator().manual_seed(4)
    X = torch.randn(512, 64, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (512,), generator=gen)
    land = Landscape(nets.mlp([64, 32, 32, 10], "tanh", seed=5), (X, y), loss="ce")
    theta = land.theta0
    v = torch.randn(land.dim, generator=gen, dtype=torch.float64)
    t_grad = time_call(lambda: land.grad(theta), repeat=30, warmup=3)
    t_hvp = time_call(lambda: land.hvp(theta, v), repeat=30, warmup=3)
    return {"d": land.dim, "N": 512, "grad_s": t_grad, "hvp_s": t_hvp,
            "ratio": t_hvp / t_grad, "target": "<= 2.5"}


def digits_tensors(dtype: torch.dtype, images: bool = False):
    from valleys.data.shipped import DIGITS_PIXEL_MAX, digits_arrays

    imgs, labels = digits_arrays()
    X = torch.tensor(imgs / DIGITS_PIXEL_MAX, dtype=dtype)
    return (X[:, None] if images else X.reshape(len(X), -1)), torch.tensor(labels)


def bench_cnn_hessian() -> dict:
    """Dense Hessian of Conv2d(1,4,3)-ReLU-Linear(144,10) on digits, float64, cross-entropy."""
    from torch import nn

    X, y = digits_tensors(torch.float64, images=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10)).double()
    land = Landscape(model, (X, y), loss=nn.CrossEntropyLoss())
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def f(theta):
        params, i = {}, 0
        for n, shape in zip(names, shapes, strict=True):
            params[n] = theta[i:i + shape.numel()].reshape(shape)
            i += shape.numel()
        return nn.functional.cross_entropy(torch.func.functional_call(model, params, (X,)), y)

    theta = land.theta0
    start = time.perf_counter()
    H_ours = land.hessian(theta, progress=False)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    H_torch = torch.autograd.functional.hessian(f, theta)
    t_torch = time.perf_counter() - start
    err = float((H_ours - H_torch).abs().max() / H_torch.abs().max())
    assert err < 1e-10, err
    return {"d": land.dim, "N": land.n_samples, "valleys_s": t_ours, "torch_hessian_s": t_torch,
            "ratio": t_ours / t_torch, "target": "<= 0.8", "max_rel_diff": err,
            "plan": list(land.batch_plans.get("hvp_rows", ())),
            "note": "one timing each (a Hessian takes minutes); valleys' plan comes from the fixed rule of "
                    "valleys.core.batching (N, d, chunk size)"}


class _Recording:
    """A loss_landscapes metric that also keeps the parameters at the first evaluations."""

    def __init__(self, metric, keep: set[int]):
        self.metric, self.keep, self.calls, self.points = metric, keep, 0, {}

    def __call__(self, wrapper):
        if self.calls in self.keep:
            params = wrapper.modules[0].parameters()
            self.points[self.calls] = torch.cat([p.detach().reshape(-1).clone() for p in params])
        self.calls += 1
        return self.metric(wrapper)


def bench_plane(steps: int = 51, loop_points: int = 400) -> dict:
    """Loss on a steps x steps plane of an MLP 64-128-128-10 on digits (float32 vs loss_landscapes)."""
    import loss_landscapes
    import loss_landscapes.metrics
    from torch import nn

    out = {}
    X, y = digits_tensors(torch.float32)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    land = Landscape(model, (X, y), loss=nn.CrossEntropyLoss(), dtype=torch.float32)
    rec = _Recording(loss_landscapes.metrics.Loss(nn.CrossEntropyLoss(), X, y), {0, 1, steps})
    torch.manual_seed(1)
    start = time.perf_counter()
    ll = loss_landscapes.random_plane(model, rec, distance=10, steps=steps, normalization="filter",
                                      deepcopy_model=True)
    t_ll = time.perf_counter() - start
    # loss_landscapes evaluates row i (along dir_one) at b = 1..steps (i even) or 0..steps-1 (i odd)
    v = rec.points[1] - rec.points[0]
    s = rec.points[0] - v
    u = rec.points[steps] - s - (steps - 1) * v
    grid = torch.arange(steps, dtype=torch.float32)
    start = time.perf_counter()
    ours = land.plane(s, u, v, grid, grid, progress=False)
    t_plane = time.perf_counter() - start
    ll = torch.as_tensor(ll, dtype=torch.float32)
    diff = torch.cat([(ours[1::2] - ll[1::2]).reshape(-1), (ours[0::2, 1:] - ll[0::2, :-1]).reshape(-1)])
    rel = float(diff.abs().max() / ll.abs().max())
    assert rel < 1e-5, rel
    n = steps * steps
    out["float32_vs_loss_landscapes"] = {
        "points": n, "loss_landscapes_s": t_ll, "valleys_plane_s": t_plane,
        "loss_landscapes_points_per_s": n / t_ll, "valleys_points_per_s": n / t_plane,
        "speedup": t_ll / t_plane, "target": ">= 1.5", "max_rel_diff": rel,
        "note": "loss_landscapes 3.0.6 random_plane (filter-normalised, its own loop; a metric wrapper records "
                "3 of its points to rebuild the plane); valleys Landscape.plane on the same 51 x 51 points"}
    # float64: the plane and the batched losses against valleys' own per-point loop
    X64 = X.double()
    land64 = Landscape(model.double(), (X64, y), loss=nn.CrossEntropyLoss())
    s, u, v = s.double(), u.double(), v.double()
    A, B = torch.meshgrid(grid.double(), grid.double(), indexing="ij")
    thetas = s + A.reshape(-1, 1) * u + B.reshape(-1, 1) * v
    sub = thetas[torch.randperm(n, generator=torch.Generator().manual_seed(2))[:loop_points]]
    land64.losses(sub[:80])  # warm-up of the batched path
    times = time_interleaved({"loop": lambda: [land64.loss(t) for t in sub],
                              "losses": lambda: land64.losses(sub)}, repeat=1, warmup=0)
    start = time.perf_counter()
    plane64 = land64.plane(s, u, v, grid.double(), grid.double(), progress=False)
    t_plane64 = time.perf_counter() - start
    assert torch.allclose(land64.losses(thetas[:50]), plane64.reshape(-1)[:50], rtol=1e-12)
    loop_pps = loop_points / times["loop"]
    out["float64_vs_own_loop"] = {
        "loop_points_per_s": loop_pps, "losses_points_per_s": loop_points / times["losses"],
        "plane_points_per_s": n / t_plane64, "losses_speedup": times["loop"] / times["losses"],
        "plane_speedup": (n / t_plane64) / loop_pps, "target": ">= 1",
        "losses_plan": list(land64.batch_plans["losses"]),
        "note": f"loop and losses timed on the same {loop_points} random plane points; the plane on all {n}"}
    return out


def main() -> dict:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = bench_batches(two_layer_landscape())
    result["hvp_over_grad"] = bench_hvp()
    if "--fast" not in sys.argv:
        result["plane"] = bench_plane()
        result["cnn_dense_hessian"] = bench_cnn_hessian()
    write_result("core", result)
    for key, val in result.items():
        for sub, item in ([(key, val)] if "target" in val else [(f"{key}.{k}", v) for k, v in val.items()]):
            ratio = item.get("speedup", item.get("ratio", item.get("plane_speedup")))
            print(f"{sub:32s} ratio {ratio:8.2f}  (target {item['target']})")
    return result


if __name__ == "__main__":
    main()
