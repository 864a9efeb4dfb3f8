"""Benchmark of sweeps: 64 tasks of about 0.5 s on 2 workers against a sequential loop.

Measured in the same run and written to ``benchmarks/results/sweep.json``:

- the sequential baseline: the 64 tasks called one after another in this process
  (pure compute, no store);
- ``valleys sweep`` through the local process pool (2 workers) and through a 2-worker
  ``distributed.LocalCluster``, each storing every task (Parquet file + catalogue row) and
  merging the sweep table: wall-time ratio to the baseline, target <= 0.6. Both executors
  are warmed up first by a 2-task sweep (the forkserver / Dask workers import valleys
  once; that start-up is reported separately, as ``startup_s``);
- the per-task overhead of store + executor: 64 tasks doing no work, (sweep wall time -
  the tasks' own wall time) / 64, in process and through a 1-worker pool.

The task is a fixed amount of pure-Python work calibrated to about 0.5 s here, so a
machine whose cores are busy with other processes shows it in the ratio (a sleep would
not).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src"),
                                            os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
os.environ.setdefault("OMP_NUM_THREADS", "1")

N_TASKS = 64
TASK_S = 0.5
WORKERS = 2


def calibrate() -> int:
    """Rounds of :func:`spin` that take about TASK_S seconds here."""
    from benchmarks._sweep_task import spin

    t0 = time.perf_counter()
    spin(50, 0)
    per_round = (time.perf_counter() - t0) / 50
    return max(1, round(TASK_S / per_round))


def sweep_wall(store, work: int, seeds: str, executor) -> tuple[float, float, int, float]:
    """(wall time, sum of the tasks' own wall times, tasks done, time of one merge)."""
    from valleys.runs.sweep import Sweeps, build_sweep

    spec, tasks = build_sweep("bench-sweep-task", [], seeds, fixed=[f"work={work}"])
    sweeps = Sweeps(store)
    t0 = time.perf_counter()
    record = sweeps.run(spec, tasks, executor, progress=False)
    wall = time.perf_counter() - t0
    rows = sweeps.tasks(record.sweep_id)
    t0 = time.perf_counter()
    sweeps.merge(record.sweep_id)
    merge = time.perf_counter() - t0
    return wall, sum(r.wall_time_s or 0.0 for r in rows), record.n_done, merge


def executor_entry(wall: float, tasks_wall: float, startup: float, sequential: float) -> dict:
    """Ratio to the sequential loop, and how busy the workers were."""
    return {"wall_s": wall, "ratio_to_sequential": wall / sequential,
            "tasks_own_wall_s": tasks_wall, "startup_s": startup,
            "busy_fraction": tasks_wall / (WORKERS * wall),
            "task_slowdown_vs_sequential": tasks_wall / sequential,
            "target": "<= 0.6"}


def main() -> None:
    import torch

    torch.set_num_threads(1)
    import benchmarks._sweep_task as bench_task
    import dask
    from benchmarks._timing import write_result
    from distributed import Client, LocalCluster

    from valleys.runs import RunStore
    from valleys.runs.executors import DaskExecutor, InlineExecutor, LocalPool

    work = calibrate()
    last = f"0..{N_TASKS - 1}"
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs")
        t0 = time.perf_counter()
        for seed in range(N_TASKS):
            bench_task.task(bench_task.WorkParams(work=work, seed=seed))
        sequential = time.perf_counter() - t0

        startup_pool = sweep_wall(store, 1, "1000..1001", LocalPool(WORKERS, threads=1))[0]
        pool_wall, pool_tasks, pool_done, _ = sweep_wall(store, work, last,
                                                         LocalPool(WORKERS, threads=1))

        dask_runs = {}
        for label, profile in (("dask_local_cluster", False), ("dask_local_cluster_profiler_on", True)):
            with dask.config.set({"distributed.worker.profile.enabled": profile}), LocalCluster(
                    n_workers=WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None) as cluster:
                def executor():
                    return DaskExecutor(Client(cluster.scheduler_address, set_as_default=False))

                offset = 5000 + 1000 * profile
                startup = sweep_wall(store, 1, f"{offset}..{offset + 1}", executor())[0]
                dask_wall, dask_tasks, dask_done, _ = sweep_wall(
                    store, work, f"{offset + 100}..{offset + 100 + N_TASKS - 1}", executor())
            assert dask_done == N_TASKS
            dask_runs[label] = executor_entry(dask_wall, dask_tasks, startup, sequential)

        inline_wall, inline_tasks, _, inline_merge = sweep_wall(
            store, 0, f"3000..{3000 + N_TASKS - 1}", InlineExecutor())
        one_wall, one_tasks, _, one_merge = sweep_wall(
            store, 0, f"4000..{4000 + N_TASKS - 1}", LocalPool(1, threads=1))
    assert pool_done == N_TASKS
    result = {
        "n_tasks": N_TASKS, "workers": WORKERS, "work_rounds": work,
        "task_s_sequential_mean": sequential / N_TASKS,
        "sequential_s": sequential,
        "local_pool": executor_entry(pool_wall, pool_tasks, startup_pool, sequential),
        **dask_runs,
        "dask_note": "dask_local_cluster runs its workers with Dask's statistical profiler off "
                     "(distributed.worker.profile.enabled: false, the configuration the README "
                     "recommends for valleys workers): the profiler samples every worker thread "
                     "every 10 ms and competes for the GIL with the task; the same cluster "
                     "with Dask's default (profiler on) is reported as "
                     "dask_local_cluster_profiler_on.",
        "overhead_per_task_ms": {
            "in_process": 1000 * (inline_wall - inline_tasks - inline_merge) / N_TASKS,
            "local_pool_1_worker": 1000 * (one_wall - one_tasks - one_merge) / N_TASKS,
            "merge_of_64_tasks_s": {"in_process": inline_merge, "local_pool": one_merge},
            "note": "64 tasks doing no work: (sweep wall - tasks' own wall - one merge) / 64; "
                    "includes writing the task file and its catalogue row and (pool) starting "
                    "the worker; the final merge (table, summary, report) is given apart"},
        "note": "startup_s: a 2-task warm-up sweep (forkserver or Dask workers importing "
                "valleys), not in wall_s. busy_fraction = tasks' own wall / (workers * "
                "wall): how much of the time the executor kept both workers on tasks. "
                "task_slowdown_vs_sequential > 1 means the tasks themselves ran slower in "
                "parallel than alone (cores shared with other processes; see load_average)",
    }
    path = write_result("sweep", result)
    print(path)
    for key in ("local_pool", "dask_local_cluster", "dask_local_cluster_profiler_on"):
        print(f"{key}: ratio {result[key]['ratio_to_sequential']:.3f} (target <= 0.6)")
    print(f"overhead per task: {result['overhead_per_task_ms']}")


if __name__ == "__main__":
    main()
