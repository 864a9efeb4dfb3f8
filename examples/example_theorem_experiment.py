"""A theorem experiment end to end.

``sun-toy-uv`` checks the survey's example min (uv - 1)^2: the origin is a strict saddle
with Hessian eigenvalues +-2, the minima form the curve uv = 1 with Hessian eigenvalues
{0, 2(u^2 + v^2)}, and gradient descent from random starts reaches the curve. The script
runs it twice: from Python through the registry (measure -> judge -> draw), and from the
command line into a run store, as ``valleys run`` does, then reads the stored verdict back.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from valleys.experiments.registry import get_experiment

QUICK = os.environ.get("VALLEYS_EXAMPLE_QUICK") == "1"
OUT = Path(os.environ.get("VALLEYS_EXAMPLE_OUT", "."))

exp = get_experiment("sun-toy-uv")
print(f"{exp.name}: {exp.claim}")
params = exp.params.preset(quick=True)
result = exp.run(params)
for check in result.verdict.checks:
    print(f"  [{check.kind}] {'pass' if check.passed else 'FAIL'}  {check.name}: measured {check.measured}")
print(f"verdict: {result.verdict.summary}")

with tempfile.TemporaryDirectory() as runs:
    cmd = [sys.executable, "-m", "valleys", "--runs-dir", runs, "run", "sun-toy-uv", "--quick"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(f"$ valleys run sun-toy-uv --quick   -> exit status {done.returncode}")
    (folder,) = [p for p in Path(runs).iterdir() if p.name.startswith("sun-toy-uv-")]
    stored = json.loads((folder / "verdict.json").read_text())
    print(f"stored in {folder.name}/: {sorted(p.name for p in folder.iterdir())}")
    print(f"stored verdict: {stored['summary']}")
    for fig in sorted((folder / "figures").glob("*.png")):
        (OUT / fig.name).write_bytes(fig.read_bytes())
