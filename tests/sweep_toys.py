"""Test-only experiments for the sweep tests, registered when this module is imported.

Worker processes (the local pool, Dask workers) import this module by name from the
task's ``module`` field, so it registers at import time; tests call :func:`unregister`
afterwards so that the shared experiment checks never see these toys.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from valleys.experiments import REGISTRY, Params, Result, Verdict, experiment

TOY = "test-sweep-toy"
NAMES = (TOY,)


@dataclass(frozen=True)
class ToyParams(Params):
    """y = a * x for n standard normal x drawn from the seed; knobs to sleep, fail, die, hold
    or wait at a gate.

    A task whose seed is >= ``hold_min_seed`` waits until the file ``hold_file`` exists
    (when it is set): the tests keep tasks unfinished for as long as they need. The task of
    seed ``gate_seed`` marks ``<gate>.started`` and waits until the file ``gate`` exists.
    """

    a: float = 1.0
    n: int = 5
    widths: tuple[int, ...] = (4,)
    sleep: float = 0.0
    busy: float = 0.0
    fail_seed: int = -1
    fail_if_exists: str = ""
    die_seed: int = -1
    hold_file: str = ""
    hold_min_seed: int = 1
    gate_seed: int = -1
    gate: str = ""
    tol: float = 1e-9
    LIMITS: ClassVar[dict[str, str]] = {"a": "> 0", "n": ">= 2", "widths": "nonempty, >= 1",
                                        "sleep": ">= 0", "busy": ">= 0", "fail_seed": ">= -1",
                                        "die_seed": ">= -1", "hold_min_seed": ">= 0",
                                        "gate_seed": ">= -1", "tol": ">= 0"}
    QUICK: ClassVar[dict] = {"n": 4}


def toy(p: ToyParams) -> Result:
    """Least-squares slope of exact data y = a x recovers a (closed form)."""
    if p.seed == p.die_seed:
        os._exit(3)  # a worker process that dies without a word
    if p.seed == p.fail_seed and (not p.fail_if_exists or Path(p.fail_if_exists).exists()):
        raise ValueError(f"task of seed {p.seed} fails (marker {p.fail_if_exists or 'none'})")
    while p.hold_file and p.seed >= p.hold_min_seed and not Path(p.hold_file).exists():
        time.sleep(0.01)
    if p.seed == p.gate_seed and p.gate:
        _wait_at_gate(Path(p.gate))
    time.sleep(p.sleep)
    end = time.perf_counter() + p.busy
    while time.perf_counter() < end:  # CPU-bound work, for the benchmark
        sum(i * i for i in range(2000))
    x = np.random.default_rng(p.seed).standard_normal(p.n)
    y = p.a * x
    fitted = float(x @ y / (x @ x))
    verdict = Verdict()
    verdict.add("fitted slope", fitted, p.a, p.tol, abs(fitted - p.a) <= p.tol, kind="evidence")
    verdict.add("mean square of x", float(np.mean(x * x)), 1.0, None, True, kind="consistency")
    table = pd.DataFrame({"i": np.arange(p.n), "x": x, "y": y, "width_sum": sum(p.widths)})
    return Result(table, verdict, metadata={"n": p.n})


#: Longest wait at a closed gate (seconds): a test that never opens it fails, it does not hang.
GATE_DEADLINE_S = 600.0


def _wait_at_gate(gate: Path) -> None:
    """Mark this task as started (``<gate>.started``), then wait until the file ``gate`` exists."""
    gate.with_name(gate.name + ".started").touch()
    deadline = time.monotonic() + GATE_DEADLINE_S
    while not gate.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gate {gate} was not opened within {GATE_DEADLINE_S:g} s")
        time.sleep(0.05)


def register() -> None:
    """Register the toys (again) if they are not registered."""
    if TOY not in REGISTRY:
        experiment(TOY, source="000 test toy", claim="TEST-1: least squares recovers a",
                   params=ToyParams)(toy)


def unregister() -> None:
    for name in NAMES:
        REGISTRY.pop(name, None)


register()
