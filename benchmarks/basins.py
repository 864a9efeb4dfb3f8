"""Benchmark of valleys.basins: exact basin values per second, and the SS-T2 Monte Carlo.

Both sides of each comparison are measured in the same run and written to
``benchmarks/results/basins.json``. Targets (issue 9):

- exact basin values per second for n = 16 neurons, d = 20, m = 40 samples, squared
  loss: :class:`valleys.basins.BasinSolver` (on this well-conditioned data OSQP proposes
  the active set: one workspace per reduced width, values updated per basin; exact
  polish + KKT certificate; the interior-point route takes over where OSQP fails) against a generic
  CVXPY model rebuilt for each basin (Clarabel, CVXPY's accurate default): >= 5x, values
  equal to 1e-6;
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

from benchmarks._timing import write_result  # noqa: E402

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


def bench_values(basins: int = 40) -> dict:
    X, y, patterns = _problem(basins=basins)
    solver = BasinSolver(X, y)
    solver.value(patterns[0], check_empty=False)  # set-up of the workspace, excluded as warm-up
    t0 = time.perf_counter()
    ours = [solver.value(p, check_empty=False) for p in patterns]
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = [_cvxpy_value(p, X, y) for p in patterns]
    t_cvx = time.perf_counter() - t0
    diff = max(abs(a.value - b) for a, b in zip(ours, ref, strict=True))
    statuses = sorted({r.status for r in ours})
    return {"n": 16, "d": 20, "m": 40, "basins": basins, "ours_s": t_ours, "cvxpy_s": t_cvx,
            "ours_per_s": basins / t_ours, "cvxpy_per_s": basins / t_cvx, "speedup": t_cvx / t_ours,
            "max_value_diff": diff, "values_equal_1e-6": diff <= 1e-6, "statuses": statuses,
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
