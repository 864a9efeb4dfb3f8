"""Benchmark of batched training: B two-layer nets trained at once vs one at a time.

Issue target: 256 two-layer tanh nets (d = 64, width 32, one output, N = 512, squared
loss) trained for 500 full-batch gradient steps; the batched route (one
:class:`valleys.train.MLPStack`, batched matrix products) against a loop over
:func:`valleys.train.fit` (one Landscape per net): at least 10x, and the final parameters
of both routes equal to 1e-10 (float64). The vmap route (:func:`valleys.train.fit_batch`)
is timed too.

The loop is timed on ``--loop-nets`` of the nets and scaled to all B (its cost is the
same for every net); every timed net is also compared with the batched result.
A second case (d = 8, width 8, N = 32) shows where batching pays on a CPU. Usage:
``python benchmarks/train.py [--nets 256] [--steps 500] [--loop-nets 16]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import write_result  # noqa: E402

from valleys import Landscape, nets  # noqa: E402
from valleys.train import MLPStack, fit, fit_batch, fit_stack  # noqa: E402


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def bench(args, d: int, width: int, n: int) -> dict:
    """Time the three routes on ``args.nets`` two-layer nets [d, width, 1] with N = n samples."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    Y = torch.tanh(X @ torch.randn(d, 1, generator=gen, dtype=torch.float64) / math.sqrt(d))
    models = [nets.mlp([d, width, 1], "tanh", seed=s) for s in range(args.nets)]
    stack = MLPStack.from_modules(models)
    kw = {"lr": 0.05, "steps": args.steps, "record_every": args.steps, "progress": False}
    # the routes alternate (loop, batched, loop) so that load bursts hit both
    loop_a, t_loop_a = _timed(lambda: [fit(Landscape(m, (X, Y)), **kw).theta
                                       for m in models[: args.loop_nets // 2]])
    batched, t_batched = _timed(lambda: fit_stack(stack, X, Y, **kw))
    loop_b, t_loop_b = _timed(lambda: [fit(Landscape(m, (X, Y)), **kw).theta
                                       for m in models[args.loop_nets // 2: args.loop_nets]])
    singles = torch.stack(loop_a + loop_b)
    per_net_loop = (t_loop_a + t_loop_b) / args.loop_nets
    land = Landscape(models[0], (X, Y))
    vm, t_vmap = _timed(lambda: fit_batch(land, stack.thetas()[: args.vmap_nets], **kw))
    diff = float((batched.thetas[: args.loop_nets] - singles).abs().max())
    diff_vmap = float((vm.thetas - singles[: args.vmap_nets]).abs().max()) if args.vmap_nets <= args.loop_nets else None
    loop_all = per_net_loop * args.nets
    floor = _gemm_floor(X, args.nets, width) * args.steps
    return {
        "nets": args.nets, "steps": args.steps, "d": d, "width": width, "N": n,
        "batched_s": t_batched, "loop_s_per_net": per_net_loop, "loop_nets_timed": args.loop_nets,
        "loop_s_all_nets_scaled": loop_all, "speedup_batched_vs_loop": loop_all / t_batched,
        "vmap_s_per_net": t_vmap / args.vmap_nets,
        "speedup_batched_vs_vmap": (t_vmap / args.vmap_nets) * args.nets / t_batched,
        "max_param_diff_batched_vs_loop": diff, "max_param_diff_vmap_vs_loop": diff_vmap,
        "gemm_floor_s": floor, "batched_over_floor": t_batched / floor,
        "max_speedup_at_floor": loop_all / floor,
        "target": ">= 10x, params equal to 1e-10",
        "equal_to_1e-10": diff <= 1e-10,
    }


def _gemm_floor(X: torch.Tensor, nets: int, width: int, repeats: int = 5) -> float:
    """Seconds per step of the two products no full-batch gradient step can avoid, for all
    nets at once: the first layer X (N, d) @ W1 (d, B m) and its gradient, G^T (B m, N) @ X or
    X^T @ G, whichever orientation BLAS runs faster.
    The second layer and the activation are left out, so this is a lower bound."""
    W = torch.randn(X.shape[1], nets * width, dtype=X.dtype)
    G = torch.randn(X.shape[0], nets * width, dtype=X.dtype)
    best = math.inf
    for gradient in (lambda: G.T @ X, lambda: X.T @ G):  # the faster orientation of the gradient
        (X @ W, gradient())
        start = time.perf_counter()
        for _ in range(repeats):
            (X @ W, gradient())
        best = min(best, (time.perf_counter() - start) / repeats)
    return best


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", type=int, default=256)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--loop-nets", type=int, default=16)
    ap.add_argument("--vmap-nets", type=int, default=16)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    result = {"issue_size": bench(args, 64, 32, 512),
              "small_nets": bench(args, 8, 8, 32),
              "note": "small_nets (d = 8, width 8, N = 32) shows where batching pays on a CPU: when one "
                      "net's step is dominated by Python/autograd overhead rather than by its arithmetic. "
                      "gemm_floor_s: the two matrix products every full-batch step needs (first layer "
                      "and its gradient) for all nets, times the steps; max_speedup_at_floor = loop "
                      "time / floor is the most any batched route can gain over the loop on this "
                      "machine, and batched_over_floor how close ours comes to it"}
    write_result("train", result)
    for key in ("issue_size", "small_nets"):
        r = result[key]
        print(f"{key}: batched {r['batched_s']:.2f}s, loop {r['loop_s_all_nets_scaled']:.2f}s (scaled from "
              f"{r['loop_nets_timed']} nets): {r['speedup_batched_vs_loop']:.2f}x; vmap/batched "
              f"{r['speedup_batched_vs_vmap']:.2f}; max |diff| {r['max_param_diff_batched_vs_loop']:.2e}; "
              f"GEMM floor {r['gemm_floor_s']:.2f}s (at most {r['max_speedup_at_floor']:.2f}x possible)")
    return result


if __name__ == "__main__":
    main()
