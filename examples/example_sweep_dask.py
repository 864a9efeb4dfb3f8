"""A sweep on a Dask LocalCluster.

A sweep runs one experiment over a grid of parameters and seeds and merges the tasks into
one table with figures. Here the grid runs ``sun-toy-uv`` (gradient descent on (uv - 1)^2)
over two learning rates and two (quick: one) seeds on a two-worker Dask cluster started in
this script; on a real cluster, point ``--scheduler`` at its scheduler instead. The driver
alone writes the run store, and the same command resumes an interrupted sweep.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from dask.distributed import LocalCluster

QUICK = os.environ.get("VALLEYS_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("VALLEYS_EXAMPLE_OUT", "."))


def valleys(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "valleys", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"valleys {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as runs, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        seeds = "0" if QUICK else "0..1"
        print(f"scheduler: {cluster.scheduler_address}")
        out = valleys("--runs-dir", runs, "sweep", "sun-toy-uv", "--quick", "--grid", "lr=0.02,0.05",
                      "--set", "n_starts=50", "--seeds", seeds, "--scheduler", cluster.scheduler_address)
        print(out)
        (sweep,) = [p for p in Path(runs).iterdir() if p.name.startswith("sweep-")]
        print(valleys("--runs-dir", runs, "show", sweep.name))
        for fig in sorted((sweep / "figures").glob("*.png"))[:2]:
            (OUT / fig.name).write_bytes(fig.read_bytes())
