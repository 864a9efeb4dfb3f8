"""Benchmark of ``valleys.surface.plane`` against ``loss_landscapes.random_plane``.

Same model (MLP 64-128-128-10, digits N = 1797, cross-entropy), same data and the same
filter-normalised directions (loss_landscapes' random draw is replaced by ours, its
normalisation switched off, so both evaluate the same points). Both run in the same
process, timed round-robin; the ratio of points per second goes to
``benchmarks/results/surface.json`` with the largest relative difference of the values
(float32), the float64 rate, and the achieved GFLOP/s against this machine's float32
matmul rate at the same shapes (the ceiling).

loss_landscapes (pip ``loss-landscapes``, the ``bench`` extra) loops over grid points,
moving the parameters in place and calling the model once per point. Note: its columns
alternate direction and odd columns are evaluated one step lower in the second direction
than even ones (beta_k = -D/2 + k h instead of -D/2 + (k + 1) h); the comparison reads our
values at exactly the points it evaluated.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import time_interleaved, write_result  # noqa: E402

from valleys import Landscape, nets  # noqa: E402
from valleys.data import digits  # noqa: E402
from valleys.surface import direction, plane  # noqa: E402

STEPS = int(os.environ.get("VALLEYS_BENCH_STEPS", "51"))
DISTANCE = 2.0


def _baseline(model, X, y, D1, D2):
    import loss_landscapes
    import loss_landscapes.main as llm
    from loss_landscapes.metrics import Loss
    from loss_landscapes.model_interface.model_parameters import ModelParameters

    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def as_params(d):
        return ModelParameters([c.reshape(s).clone() for c, s in zip(torch.split(d, sizes), shapes, strict=True)])

    queue = []

    def fake_rand(_example):
        return as_params(queue.pop(0))

    metric = Loss(torch.nn.functional.cross_entropy, X, y)

    def run():
        queue[:] = [D1, D2]
        original, original_orth = llm.rand_u_like, llm.orthogonal_to
        llm.rand_u_like, llm.orthogonal_to = fake_rand, fake_rand
        try:
            m = [p.detach().clone() for p in model.parameters()]
            out = loss_landscapes.random_plane(model, metric, distance=DISTANCE, steps=STEPS, normalization=None)
        finally:
            llm.rand_u_like, llm.orthogonal_to = original, original_orth
            with torch.no_grad():
                for p, v in zip(model.parameters(), m, strict=True):
                    p.copy_(v)
        return out

    return run


def _ours(land, theta, D, xs, ys):
    return lambda: plane(land, theta, grid=xs, grid_y=ys, directions=D, chunk=land.chunk_size)


def matmul_ceiling(N: int, widths: list[int], batch: int = 64) -> float:
    """float32 GFLOP/s of batched matmuls at the network's shapes (batch of parameter points)."""
    gen = torch.Generator().manual_seed(0)
    flops, fns = 0.0, []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        A = torch.randn(batch, N, a, generator=gen)
        B = torch.randn(batch, a, b, generator=gen)
        fns.append((A, B))
        flops += 2.0 * batch * N * a * b
    t = time_interleaved({"mm": lambda: [torch.bmm(A, B) for A, B in fns]}, repeat=5)["mm"]
    return flops / t / 1e9


def main() -> None:
    torch.set_num_threads(1)
    data = digits()
    X32, y = data.X.float(), data.y
    model = nets.mlp([64, 128, 128, 10], "relu", seed=0).float()
    chunk = int(os.environ.get("VALLEYS_BENCH_CHUNK", "8"))
    land32 = Landscape(model, (X32, y), loss="ce", dtype=torch.float32, chunk_size=chunk)
    land64 = Landscape(model, (data.X, y), loss="ce", dtype=torch.float64, chunk_size=chunk)
    theta32 = land32.theta0
    D1 = direction(land32, theta32, seed=1)
    D2 = direction(land32, theta32, seed=2)
    D = torch.stack([D1, D2])
    # loss_landscapes scales each direction to a step of ||theta|| / (distance * steps) and starts
    # steps/2 steps below the centre; our coordinates along the unnormalised D1, D2:
    tn = float(theta32.norm())
    h1 = tn / (DISTANCE * STEPS) / float(D1.norm())
    h2 = tn / (DISTANCE * STEPS) / float(D2.norm())
    xs = (np.arange(STEPS) - STEPS / 2) * h1
    ys = (np.arange(STEPS + 1) - STEPS / 2) * h2  # covers both column parities of the baseline
    base = _baseline(model, X32, y, D1, D2)
    ours32 = _ours(land32, theta32, D, xs, ys)
    ours64 = _ours(land64, land64.theta0, D.double(), xs, ys)
    times = time_interleaved({"baseline": base, "ours32": ours32, "ours64": ours64}, repeat=2, warmup=0)
    theirs = base()
    s = ours32()
    ref = np.empty((STEPS, STEPS))
    for i in range(STEPS):  # their matrix[i][k]: i along d1, k along d2, parity-dependent offset
        off = 1 if i % 2 == 0 else 0
        ref[i] = s.losses[off:off + STEPS, i]
    rel = float(np.max(np.abs(theirs - ref) / np.maximum(np.abs(ref), 1e-12)))
    n_ours = len(xs) * len(ys)
    n_base = STEPS * STEPS
    rate = {"baseline": n_base / times["baseline"], "ours32": n_ours / times["ours32"],
            "ours64": n_ours / times["ours64"]}
    widths = [64, 128, 128, 10]
    flop_per_point = 2.0 * len(y) * sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    ceiling = matmul_ceiling(len(y), widths)
    result = {
        "model": "MLP 64-128-128-10 relu, digits N = 1797, cross-entropy",
        "grid": f"{STEPS}x{STEPS}", "chunk_size": chunk, "points_per_s": rate,
        "ratio_ours32_vs_baseline": rate["ours32"] / rate["baseline"],
        "ratio_ours64_vs_baseline": rate["ours64"] / rate["baseline"],
        "max_rel_diff_float32": rel, "target_ratio": 1.5, "target_rel_diff": 1e-5,
        "gflops_ours32": rate["ours32"] * flop_per_point / 1e9,
        "gflops_baseline": rate["baseline"] * flop_per_point / 1e9,
        "gflops_matmul_ceiling_float32": ceiling,
        "note": "ours = valleys.surface.plane: its affine route computes the first layer once for the "
                "whole grid (it is affine in the plane's coordinates) and the deeper layers per point; "
                "baseline = loss_landscapes.random_plane with our directions (its loop over points, "
                "in-place parameter moves). At equal matmul efficiency the affine route does "
                "(64*128 + 128*128 + 128*10) / (128*128 + 128*10) = 1.46x fewer FLOPs per point, the "
                "most it can gain on this network",
    }
    print(result)
    write_result("surface", result)


if __name__ == "__main__":
    main()
