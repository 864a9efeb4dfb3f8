"""Benchmark of path search and certificates between two minima of a small MLP.

Reports (``benchmarks/results/paths.json``): loss/gradient evaluations and wall time of
NEB and AutoNEB (climbing image) to bring the saddle image's force below 1e-6, a short
NEB (600 steps) followed by Newton's method on grad L = 0 from its climbing image
(``paths.refine_saddle``: gradient norm <= 1e-6 and the Morse index of the point), the
straight-line barrier against the band's, and the cost of certifying the band's polygon
per segment (kind ``"exact"`` for a ReLU net, ``"bound"`` for a tanh net). There is no
peer baseline for certificates (peers only sample); the NEB numbers are reported as is.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import write_result  # noqa: E402

from valleys import Landscape, nets  # noqa: E402
from valleys.critical import lbfgs  # noqa: E402
from valleys.paths import autoneb, certify, evaluate, linear, neb, refine_saddle  # noqa: E402


def two_minima(act: str):
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    y = torch.sin(2 * X[:, 0]) * X[:, 1]
    land = Landscape(nets.mlp([2, 6, 1], act, seed=0), (X, y), loss="mse")
    ends = []
    for seed in (1, 2):
        start = 0.8 * torch.randn(land.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        ends.append(lbfgs(land, start, max_iter=3000, grad_tol=1e-10).theta)
    return land, ends[0], ends[1]


def main() -> None:
    torch.set_num_threads(1)
    out = {}
    for act in ("tanh", "relu"):
        land, a, b = two_minima(act)
        line = evaluate(linear(a, b), land, max_points=513)
        row = {"L_a": float(land.loss(a)), "L_b": float(land.loss(b)), "linear_saddle": line.max}
        t = time.perf_counter()
        band = neb(land, a, b, images=9, steps=4000, lr=5e-3, climb_after=200, tol=1e-6)
        row["neb"] = {**band.to_dict(), "seconds": time.perf_counter() - t}
        t = time.perf_counter()
        short = neb(land, a, b, images=9, steps=600, lr=5e-3, climb_after=200, tol=1e-6)
        refined = refine_saddle(land, short, grad_tol=1e-6)
        row["neb_600_then_newton"] = {
            "neb_evaluations": short.n_evaluations, "band_saddle": short.image_max,
            **refined.to_dict(), "newton_gradient_and_hessian_evaluations": refined.iterations + 1,
            "seconds": time.perf_counter() - t,
            "saddle_vs_long_neb": refined.loss - band.image_max}
        t = time.perf_counter()
        auto = autoneb(land, a, b, cycles=(200, 200, 4000), start_images=5, insert=2, lr=5e-3, tol=1e-6)
        row["autoneb"] = {**auto.to_dict(), "seconds": time.perf_counter() - t}
        for res, name in ((band, "neb"), (auto, "autoneb")):
            row[name].pop("losses")
            t = time.perf_counter()
            cert = certify(res.path, land, claim="sublevel", level=res.image_max + 1e-3, max_pieces=50_000)
            dt = time.perf_counter() - t
            n_seg = len(res.path.segments)
            row[name]["certificate"] = {"holds": cert.holds, "kind": cert.kind, "pieces": len(cert.pieces),
                                        "seconds": dt, "seconds_per_segment": dt / n_seg,
                                        "evaluations": cert.n_evaluations}
        out[act] = row
        print(act, row)
    write_result("paths", {"problem": "MLP 2-6-1 on 20 points (squared loss), two L-BFGS minima", **out})


if __name__ == "__main__":
    main()
