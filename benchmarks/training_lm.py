"""Benchmark of Levenberg–Marquardt on a wide sigmoid net, and of the layer-by-layer NTK Gram.

Two measurements, each against its baseline in the same run:

1. **Gram matrix** K = G G^T of a [64, 256, 10] sigmoid net on N = 200 digits (2000 × 2000):
   :func:`valleys.curvature.ntk_gram` (layer by layer, no Jacobian) against ``jacrev``'s
   Jacobian G (2000 × 19210) times its transpose; the two must agree to 1e-12 (relative).
2. **Training to a zero-loss critical point** (``nguyen-zero-loss``'s problem: half squared
   loss summed, one-hot targets): ``fit(method="lm")`` against ``fit(method="lbfgs")``
   from the same starts. Equal accuracy is the target: ||grad|| <= 1e-6 and loss <= 1e-8 x
   initial. LM's time to reach it is compared with L-BFGS's time over its whole budget
   (``--lbfgs-evals``, 3000 by default), and the loss ratio each one reaches is stored:
   when L-BFGS does not reach the target the ratio is a lower bound of the speed-up.

Usage: ``python benchmarks/training_lm.py [--starts 3] [--lbfgs-evals 3000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.func import jacrev

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import time_call, write_result  # noqa: E402

from valleys import Landscape, nets  # noqa: E402
from valleys.curvature import ntk_gram  # noqa: E402
from valleys.experiments.d004_nguyen._shared import noisy_digits, one_hot  # noqa: E402
from valleys.train import fit  # noqa: E402

GRAD_TOL, LOSS_RATIO = 1e-6, 1e-8


def _land(X, Y, seed: int) -> Landscape:
    return Landscape(nets.mlp([64, 256, 10], "sigmoid", seed=seed), (X, Y), loss="half_squared",
                     reduction="sum")


def gram(X, Y) -> dict:
    land = _land(X, Y, 1000)
    theta = land.theta0

    def by_jacobian():
        G = jacrev(lambda t: land.outputs(t).reshape(-1))(theta)
        return G @ G.T

    K_fast, K_jac = ntk_gram(land, theta), by_jacobian()
    t_fast = time_call(lambda: ntk_gram(land, theta), repeat=3)
    t_jac = time_call(by_jacobian, repeat=1, warmup=0)
    rel = float((K_fast - K_jac).abs().max() / K_jac.abs().max())
    return {"size": list(K_fast.shape), "params": land.dim, "layered_s": t_fast, "jacobian_s": t_jac,
            "speedup": t_jac / t_fast, "max_rel_diff": rel, "equal_to_1e-12": rel <= 1e-12}


def training(X, Y, starts: int, lbfgs_evals: int) -> dict:
    rows = []
    for s in range(starts):
        land = _land(X, Y, 1000 + s)
        L0 = float(land.loss(land.theta0))
        out = {}
        for method, kw in (("lm", {"steps": 200}), ("lbfgs", {"steps": lbfgs_evals, "history_size": 50})):
            start = time.perf_counter()
            res = fit(land, method=method, lr=1.0, grad_tol=GRAD_TOL, record_every=kw["steps"], progress=False,
                      **kw)
            seconds = time.perf_counter() - start
            g = float(land.grad(res.theta).norm())
            out[method] = {"seconds": seconds, "loss_ratio": res.loss / L0, "grad_norm": g, "steps": res.steps,
                           "reached": g <= GRAD_TOL and res.loss <= LOSS_RATIO * L0}
        rows.append(out)
    lm_s = sum(r["lm"]["seconds"] for r in rows)
    lb_s = sum(r["lbfgs"]["seconds"] for r in rows)
    return {"starts": rows, "lm_s": lm_s, "lbfgs_s": lb_s, "speedup_lbfgs_budget_over_lm": lb_s / lm_s,
            "lm_all_reached": all(r["lm"]["reached"] for r in rows),
            "lbfgs_any_reached": any(r["lbfgs"]["reached"] for r in rows),
            "target": f"||grad|| <= {GRAD_TOL:g} and loss <= {LOSS_RATIO:g} x initial"}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--lbfgs-evals", type=int, default=3000)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    X, y = noisy_digits(200, 0.0, 0)
    Y = one_hot(y)
    result = {"gram": gram(X, Y), "training": training(X, Y, args.starts, args.lbfgs_evals),
              "note": "when L-BFGS never reaches the target, speedup_lbfgs_budget_over_lm is a lower bound"}
    write_result("training_lm", result)
    g, t = result["gram"], result["training"]
    print(f"gram {g['size']}: layered {g['layered_s']:.2f}s, jacobian {g['jacobian_s']:.2f}s ({g['speedup']:.1f}x), "
          f"max rel diff {g['max_rel_diff']:.1e}")
    ratios = ", ".join(f"{r['lbfgs']['loss_ratio']:.1e}" for r in t["starts"])
    print(f"training: LM {t['lm_s']:.1f}s (all reached: {t['lm_all_reached']}), L-BFGS {t['lbfgs_s']:.1f}s "
          f"(any reached: {t['lbfgs_any_reached']}; loss ratios {ratios}): {t['speedup_lbfgs_budget_over_lm']:.1f}x")
    return result


if __name__ == "__main__":
    main()
