"""Benchmark of valleys.basins: exact basin values per second, and the SS-T2 Monte Carlo.

Both sides of each comparison are measured in the same run and written to
``benchmarks/results/basins.json``. Targets (issue 9):

- exact basin values per second for n = 16 neurons, d = 20, m = 40 samples, squared
  loss: :meth:`valleys.basins.BasinSolver.values` (40 basins through one batched
  interior-point method, Woodbury-factored Newton steps; each value polished exactly and
  KKT-certified, or re-solved one basin at a time) against a generic CVXPY model rebuilt
  for each basin (Clarabel, CVXPY's accurate default): >= 5x, values equal to 1e-6 (issue
  23 item 4). The one-basin-at-a-time route (:meth:`~valleys.basins.BasinSolver.value`:
  OSQP proposes the active set on this well-conditioned data) is timed in the same rounds.
  The three are timed round-robin (:func:`benchmarks._timing.time_interleaved`, median of
  5 rounds, a fresh solver per round, its set-up included), so load bursts hit all alike;
- the Monte Carlo of SS-T2 (singleton data, d = 100, m = 200 points, width n = 40,
  10^5 draws): wall time and draws per second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._timing import time_interleaved, write_result  # noqa: E402

from valleys import data  # noqa: E402
from valleys.basins import BasinSolver, basin_of, draw_init, initial_basin_quality  # noqa: E402


def _problem(seed: int = 0, basins: int = 40):
    """Data with nonzero basin values: positive inputs (correlated activation patterns)."""
    rng = np.random.default_rng(seed)
    n, d, m = 16, 20, 40
    X = np.abs(rng.standard_normal((m, d)))
    y = 2.0 * rng.standard_normal(m)
    W, v = draw_init(basins, n, d, "gaussian", rng)
    return X, y, [basin_of(W[i], v[i], X) for i in range(basins)]


def _cvxpy_value(pattern, X, y) -> float:
    import cvxpy as cp

    n, d, m = pattern.width, X.shape[1], len(y)
    U = cp.Variable((n, d))
    pred = cp.sum(cp.multiply((pattern.A > 0) * pattern.b[:, None], U @ X.T), axis=0)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(pred - y) / m), [cp.multiply(pattern.A, U @ X.T) >= 0])
    prob.solve(solver="CLARABEL")
    return float(prob.value)


def bench_values(basins: int = 40, repeat: int = 5) -> dict:
    """Exact basin values, valleys against CVXPY, timed round-robin (median of ``repeat``)."""
    X, y, patterns = _problem(basins=basins)
    out = {}

    def batched():
        out["batched"] = BasinSolver(X, y).values(patterns)

    def one_at_a_time():
        solver = BasinSolver(X, y)
        out["single"] = [solver.value(p, check_empty=False) for p in patterns]

    def cvxpy_side():
        out["cvxpy"] = [_cvxpy_value(p, X, y) for p in patterns]

    t = time_interleaved({"batched": batched, "single": one_at_a_time, "cvxpy": cvxpy_side},
                         repeat=repeat, warmup=1)
    ours, single, ref = out["batched"], out["single"], out["cvxpy"]
    diff = max(abs(a.value - b) for a, b in zip(ours, ref, strict=True))
    diff_single = max(abs(a.value - b.value) for a, b in zip(ours, single, strict=True))
    statuses = sorted({r.status for r in ours})
    return {"n": 16, "d": 20, "m": 40, "basins": basins, "repeat": repeat,
            "ours_s": t["batched"], "ours_one_at_a_time_s": t["single"], "cvxpy_s": t["cvxpy"],
            "ours_per_s": basins / t["batched"], "cvxpy_per_s": basins / t["cvxpy"],
            "speedup": t["cvxpy"] / t["batched"], "speedup_one_at_a_time": t["cvxpy"] / t["single"],
            "max_value_diff": diff, "values_equal_1e-6": diff <= 1e-6,
            "max_diff_batched_vs_one_at_a_time": diff_single, "statuses": statuses,
            "zero_values": int(sum(r.value <= 1e-8 for r in ours)), "target": ">= 5"}


def bench_monte_carlo(draws: int = 100_000) -> dict:
    ds = data.singleton(200, 100, seed=0)
    t0 = time.perf_counter()
    q = initial_basin_quality(ds.X, ds.y, (40,), draws, "gaussian", seed=0)
    wall = time.perf_counter() - t0
    row = q.table.iloc[0]
    return {"d": 100, "m": 200, "width": 40, "draws": draws, "wall_s": wall, "draws_per_s": draws / wall,
            "estimate": float(row["estimate"]), "exact": float(row["exact"]), "bound": float(row["bound"])}


def main() -> dict:
    torch.set_num_threads(1)
    result = {"values": bench_values(), "monte_carlo_ss_t2": bench_monte_carlo()}
    write_result("basins", result)
    v, mc = result["values"], result["monte_carlo_ss_t2"]
    print(f"basin values: {v['ours_per_s']:.1f}/s vs CVXPY {v['cvxpy_per_s']:.1f}/s -> {v['speedup']:.2f}x "
          f"(target >= 5), max diff {v['max_value_diff']:.1e}")
    print(f"SS-T2 Monte Carlo: {mc['draws']} draws in {mc['wall_s']:.1f} s ({mc['draws_per_s']:.0f}/s)")
    return result


if __name__ == "__main__":
    main()
