"""Benchmark of batched training: B two-layer nets trained at once vs one at a time.

Issue target: 256 two-layer tanh nets (d = 64, width 32, one output, N = 512, squared
loss) trained for 500 full-batch gradient steps; the batched route (one
:class:`valleys.train.MLPStack`, batched matrix products) against a loop over
:func:`valleys.train.fit` (one Landscape per net): at least 10x, and the final parameters
of both routes equal to 1e-10 (float64). The vmap route (:func:`valleys.train.fit_batch`)
is timed too.

The loop is timed on ``--loop-nets`` of the nets and scaled to all B (its cost is the
same for every net); every timed net is also compared with the batched result. Usage:
``python benchmarks/train.py [--nets 256] [--steps 500] [--loop-nets 16]``.
"""

from __future__ import annotations

import argparse
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


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", type=int, default=256)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--loop-nets", type=int, default=16)
    ap.add_argument("--vmap-nets", type=int, default=16)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(512, 64, generator=gen, dtype=torch.float64)
    Y = torch.tanh(X @ torch.randn(64, 1, generator=gen, dtype=torch.float64) / 8)
    models = [nets.mlp([64, 32, 1], "tanh", seed=s) for s in range(args.nets)]
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
    result = {
        "nets": args.nets, "steps": args.steps, "d": 64, "width": 32, "N": 512,
        "batched_s": t_batched, "loop_s_per_net": per_net_loop, "loop_nets_timed": args.loop_nets,
        "loop_s_all_nets_scaled": loop_all, "speedup_batched_vs_loop": loop_all / t_batched,
        "vmap_s_per_net": t_vmap / args.vmap_nets,
        "speedup_batched_vs_vmap": (t_vmap / args.vmap_nets) * args.nets / t_batched,
        "max_param_diff_batched_vs_loop": diff, "max_param_diff_vmap_vs_loop": diff_vmap,
        "target": ">= 10x, params equal to 1e-10",
        "equal_to_1e-10": diff <= 1e-10,
    }
    write_result("train", result)
    print(f"batched {t_batched:.2f}s, loop {loop_all:.2f}s (scaled from {args.loop_nets} nets): "
          f"{result['speedup_batched_vs_loop']:.2f}x; vmap {result['speedup_batched_vs_vmap']:.2f}x slower "
          f"than batched; max |diff| {diff:.2e}")
    return result


if __name__ == "__main__":
    main()
