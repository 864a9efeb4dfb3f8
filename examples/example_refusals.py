"""What valleys refuses, and why.

Every user error raises a ``valleys.errors.ValleysError`` subclass whose message says what
to change, before anything is computed or stored; the command line prints that one line
and exits with status 2. The script triggers a few and prints the messages.
"""

import subprocess
import sys
import tempfile

import torch
from torch import nn

import valleys
from valleys import nets
from valleys.errors import ValleysError


def show(what, call):
    try:
        call()
    except ValleysError as exc:
        print(f"{what}\n  -> {type(exc).__name__}: {exc}\n")
    else:
        raise SystemExit(f"{what}: expected a refusal")


X, y = torch.randn(20, 3), torch.randn(20, 1)
show("targets of the wrong shape for the model",
     lambda: valleys.Landscape(nets.mlp([3, 4, 2]), (X, y), loss="mse"))
show("dropout in training mode (the loss would be random)",
     lambda: valleys.Landscape(nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1)).train(),
                               (X, y), loss="mse"))
show("a parameter vector of the wrong length",
     lambda: valleys.Landscape(nets.mlp([3, 4, 1]), (X, y), loss="mse").loss(torch.zeros(5, dtype=torch.float64)))
show("a loss that returns one number instead of per-sample losses",
     lambda: valleys.Landscape(nets.mlp([3, 4, 1]), (X, y), loss=lambda f, t: ((f - t) ** 2).mean()))
wide = valleys.Landscape(nets.mlp([3, 3000, 1]), (X, y), loss="mse")
show(f"a dense Hessian far too large to form (d = {wide.dim})", lambda: wide.hessian(wide.theta0))

with tempfile.TemporaryDirectory() as runs:
    done = subprocess.run([sys.executable, "-m", "valleys", "--runs-dir", runs, "run", "sun-toy-uv",
                           "--set", "n_starts=-5"], capture_output=True, text=True)
    print(f"$ valleys run sun-toy-uv --set n_starts=-5\n  -> exit status {done.returncode}: {done.stderr.strip()}")
