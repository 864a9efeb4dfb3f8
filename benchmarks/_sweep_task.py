"""The benchmark's task: a registered experiment doing a fixed amount of pure-Python work.

Worker processes import this module by name (the task's ``module`` field), so it
registers at import time.
"""

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from valleys.experiments import REGISTRY, Params, Result, Verdict, experiment

NAME = "bench-sweep-task"


@dataclass(frozen=True)
class WorkParams(Params):
    """``work`` rounds of an integer recurrence (about 0.5 s for the calibrated value)."""

    work: int = 1000
    LIMITS: ClassVar[dict[str, str]] = {"work": ">= 0"}


def spin(work: int, seed: int) -> int:
    """A fixed amount of CPU work: ``work`` rounds of 1000 multiply-adds modulo a prime."""
    x = seed + 1
    for _ in range(work):
        for _ in range(1000):
            x = (x * 48271 + 11) % 2147483647
    return x


def task(p: WorkParams) -> Result:
    """Runs :func:`spin` and checks the result against a second evaluation (consistency)."""
    x = spin(p.work, p.seed)
    verdict = Verdict()
    verdict.add("state is in range", x, "< 2^31 - 1", None, 0 <= x < 2147483647, kind="evidence")
    return Result(pd.DataFrame({"state": [x]}), verdict)


if NAME not in REGISTRY:
    experiment(NAME, source="000 benchmark task", claim="TEST-bench: none", params=WorkParams)(task)
