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
CNN_STEPS = int(os.environ.get("VALLEYS_BENCH_CNN_STEPS", "21"))


def _baseline(model, X, y, D1, D2, steps=None):
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
            out = loss_landscapes.random_plane(model, metric, distance=DISTANCE, steps=steps or STEPS,
                                               normalization=None)
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


def per_point_floors(N: int, widths: list[int], threads: int, points: int = 200, repeat: int = 5) -> dict:
    """The per-point floors of the two ways to evaluate an MLP plane, float32, at exactly the
    per-point shapes, with ``threads`` torch threads.

    * ``full``: what a per-point forward must do (the peer): for each layer ``torch.mm`` of the
      ``N x a`` activations by the ``a x b`` weights, bias added, ReLU between layers;
    * ``stack``: valleys' stack route: the first layer's output is affine in the plane's
      coordinates (``Z_c + a Z_u + b Z_v``: two scaled additions of ``N x w_1``), the deeper
      layers as above.

    Each floor is the median time per point of ``points`` consecutive points (sustained, the
    operands stay in cache as they do in a plane), with the achieved matmul GFLOP/s. Their
    ratio is the most the stack route can gain over a per-point forward that runs at the same
    matmul efficiency; the loss (log-softmax, 10 classes) is left out of both.

    Args:
        N: samples. widths: layer widths, input first. threads: torch threads.
        points: points per timed round. repeat: timed rounds (median).

    Returns:
        ``{"full": {...}, "stack": {...}, "ceiling_ratio": full / stack}`` with seconds per point,
        FLOPs per point and GFLOP/s of each.
    """
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        X = torch.randn(N, widths[0], generator=gen)
        Ws = [torch.randn(b, a, generator=gen) / a ** 0.5 for a, b in zip(widths[:-1], widths[1:], strict=True)]
        bs = [torch.randn(b, generator=gen) for b in widths[1:]]
        Zc, Zu, Zv = (torch.randn(N, widths[1], generator=gen) for _ in range(3))

        def deeper(H):
            for W, b in zip(Ws[1:], bs[1:], strict=True):
                H = torch.addmm(b, torch.relu(H), W.t())
            return H

        def full():
            for _ in range(points):
                deeper(torch.addmm(bs[0], X, Ws[0].t()))

        def stack():
            for k in range(points):
                a = 1e-3 * k
                deeper(Zc.add(Zu, alpha=a).add_(Zv, alpha=-a))

        times = time_interleaved({"full": full, "stack": stack}, repeat=repeat, warmup=1)
    finally:
        torch.set_num_threads(old)
    flops = [2.0 * N * a * b for a, b in zip(widths[:-1], widths[1:], strict=True)]
    out = {}
    for name, flop in (("full", sum(flops)), ("stack", sum(flops[1:]))):
        per_point = times[name] / points
        out[name] = {"s_per_point": per_point, "mm_flop_per_point": flop, "mm_gflops": flop / per_point / 1e9}
    out["ceiling_ratio"] = out["full"]["s_per_point"] / out["stack"]["s_per_point"]
    return out


# ----------------------------------------------------------- the one plane against the old two rules
def old_landscape_plane(land, c, u, v, alphas, betas):
    """Baseline (benchmark only): the rule ``Landscape.plane`` had before the two plane
    evaluators were merged: the first ``nn.Linear``/``nn.Conv*`` factored out from fan-in 256
    (never for a valleys MLP, which has no such module), else ``Landscape.losses`` on all
    grid points at once."""
    from valleys.core.plane import first_affine_layer, plane_losses

    if not land._small() and first_affine_layer(land, OLD_FACTOR_MIN_FAN_IN) is not None:
        return plane_losses(land, c, u, v, alphas, betas, progress=False, route="factored",
                            min_fan_in=OLD_FACTOR_MIN_FAN_IN)
    A, B = torch.meshgrid(alphas, betas, indexing="ij")
    return land.losses(c + A.reshape(-1, 1) * u + B.reshape(-1, 1) * v, progress=False).reshape(A.shape)


#: The fan-in from which ``Landscape.plane`` factored the first layer out before the merge.
OLD_FACTOR_MIN_FAN_IN = 256


def old_surface_plane(land, c, u, v, alphas, betas):
    """Baseline (benchmark only): the rule ``surface.plane`` had before the merge: its
    NetSpec route (now the stack route) where it applies, else ``Landscape.losses`` in
    chunks of 1024 points."""
    from valleys.core.plane import plane_losses

    return plane_losses(land, c, u, v, alphas, betas, progress=False, route="stack", chunk=1024)


def _peer_available() -> bool:
    try:
        import loss_landscapes  # noqa: F401
    except ImportError:
        return False
    return True


def _plane_fns(land, args) -> dict:
    """The three evaluators of the same plane, as functions of no arguments."""
    return {"one_plane": lambda: land.plane(*args, progress=False),
            "old_landscape_plane": lambda: old_landscape_plane(land, *args),
            "old_surface_plane": lambda: old_surface_plane(land, *args)}


def bench_one_plane(repeat: int = 5) -> dict:
    """Points/s of the one plane evaluator (``Landscape.plane``, route chosen by its rule)
    against the two rules it replaced and loss_landscapes, on the MLP 64-128-128-10 and a
    CNN (Conv2d 1->16 3x3, ReLU, Linear 576->10), digits, float32, STEPS x STEPS for the MLP
    and CNN_STEPS x CNN_STEPS for the CNN (its old routes run at a few dozen points/s);
    medians of ``repeat`` interleaved rounds."""
    from torch import nn

    from valleys.core.plane import plane_route

    data = digits()
    X32, y = data.X.float(), data.y
    torch.manual_seed(0)
    models = {
        "mlp_64_128_128_10": (nets.mlp([64, 128, 128, 10], "relu", seed=0).float(), X32, STEPS),
        "cnn_conv16_3x3_linear": (nn.Sequential(nn.Conv2d(1, 16, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 10)),
                                  X32.reshape(-1, 1, 8, 8), CNN_STEPS),
    }
    peer = _peer_available()
    out = {"repeat": repeat, "statistic": "median of interleaved rounds",
           "peer": "loss_landscapes.random_plane" if peer else "loss_landscapes not installed: no peer timing"}
    for name, (model, X, steps) in models.items():
        land = Landscape(model, (X, y), loss="ce", dtype=torch.float32)
        theta = land.theta0
        D1, D2 = direction(land, theta, seed=1), direction(land, theta, seed=2)
        tn = float(theta.norm())
        h1 = tn / (DISTANCE * steps) / float(D1.norm())
        h2 = tn / (DISTANCE * steps) / float(D2.norm())
        alphas = torch.as_tensor((np.arange(steps) - steps / 2) * h1, dtype=torch.float32)
        betas = torch.as_tensor((np.arange(steps + 1) - steps / 2) * h2, dtype=torch.float32)
        fns = _plane_fns(land, (theta, D1, D2, alphas, betas))
        if peer:
            fns["peer"] = _baseline(model, X, y, D1, D2, steps)
        times = time_interleaved(fns, repeat=repeat, warmup=1)
        ours = land.plane(theta, D1, D2, alphas, betas, progress=False).double()
        n_ours = len(alphas) * len(betas)
        rate = {k: (steps * steps if k == "peer" else n_ours) / t for k, t in times.items()}
        row = {"grid": f"{steps}x{steps} (ours {steps}x{steps + 1})", "route": plane_route(land)[0],
               "points_per_s": rate,
               "ratio_vs_old_landscape_plane": rate["one_plane"] / rate["old_landscape_plane"],
               "ratio_vs_old_surface_plane": rate["one_plane"] / rate["old_surface_plane"]}
        for k in ("old_landscape_plane", "old_surface_plane"):
            other = fns[k]().double()
            row[f"max_rel_diff_vs_{k}"] = float(((other - ours).abs() / ours.abs()).max())
        if peer:
            theirs = fns["peer"]()
            ref = np.empty((steps, steps))
            for i in range(steps):  # see main(): the peer's odd columns sit one step lower in beta
                off = 1 if i % 2 == 0 else 0
                ref[i] = ours[i, off:off + steps].numpy()
            row["ratio_vs_peer"] = rate["one_plane"] / rate["peer"]
            row["max_rel_diff_vs_peer"] = float(np.max(np.abs(theirs - ref) / np.abs(ref)))
        if name.startswith("mlp"):
            widths = [64, 128, 128, 10]
            row["floors"] = {f"threads_{t}": per_point_floors(len(y), widths, t) for t in (1, 2)}
            row["floors_note"] = ("ceiling_ratio: the most the stack route can gain over a per-point forward "
                                  "at equal matmul efficiency (threads_1 is the setting timed above)")
            if peer:
                row["ratio_vs_peer_over_ceiling"] = row["ratio_vs_peer"] / row["floors"]["threads_1"]["ceiling_ratio"]
        out[name] = row
        print(name, row)
    return out


def main() -> None:
    torch.set_num_threads(1)
    if "--one-plane" in sys.argv:  # only the comparison of the one plane evaluator
        write_result("plane", {**bench_one_plane(int(os.environ.get("VALLEYS_BENCH_REPEAT", "5"))),
                               "torch_threads": 1})
        return
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
