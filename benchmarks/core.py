"""Benchmark of the landscape core: vectorised batches vs Python loops, HVP vs gradient.

Each pair is measured in the same run and written as a ratio to
``benchmarks/results/core.json``. Targets (issue "Foundation"):

- ``losses(Thetas)`` for 10,000 parameter vectors of a two-layer ReLU net (d = 20,
  width 16, N = 40) vs a Python loop over ``loss(theta)``: at least 20x;
- gradients of 2,000 parameter vectors: at least 50x (against a loop over
  ``Landscape.grad``; a loop over ``torch.func.grad`` is reported too);
- HVP time / gradient time on an MLP 64-32-32-10 with N = 512: at most 2.5.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import time_call, write_result  # noqa: E402

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


def main() -> dict:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = bench_batches(two_layer_landscape())
    result["hvp_over_grad"] = bench_hvp()
    write_result("core", result)
    for key, val in result.items():
        ratio = val.get("speedup", val.get("ratio"))
        print(f"{key:15s} ratio {ratio:8.2f}  (target {val['target']})")
    return result


if __name__ == "__main__":
    main()
