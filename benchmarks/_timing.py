"""Shared timing helpers for the benchmarks: median wall times and atomic JSON results.

Benchmarks report ratios of two timings measured in the same run (never absolute
targets), so both sides see the same machine load.

Example:
    >>> from benchmarks._timing import time_call, write_result
    >>> t = time_call(lambda: sum(range(1000)), repeat=3)
    >>> t > 0
    True
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

#: Folder where :func:`write_result` puts ``<name>.json``.
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def time_call(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls.

    Args:
        fn: a function of no arguments; its return value is discarded.
        repeat: number of timed calls (>= 1).
        warmup: number of untimed calls made first (>= 0), to fill caches and JITs.

    Returns:
        The median of the ``repeat`` wall times, in seconds.

    Raises:
        ValueError: if ``repeat`` < 1 or ``warmup`` < 0.
    """
    if repeat < 1 or warmup < 0:
        msg = f"time_call needs repeat >= 1 and warmup >= 0. Got repeat={repeat}, warmup={warmup}."
        raise ValueError(msg)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_interleaved(fns: dict[str, Callable[[], object]], *, repeat: int = 5,
                     warmup: int = 1) -> dict[str, float]:
    """Median wall times of several functions timed round-robin, in seconds.

    Each round calls every function once, so a burst of load from other processes hits
    all of them alike; ratios of the medians are then fairer than with :func:`time_call`
    run one function after the other.

    Args:
        fns: name -> function of no arguments.
        repeat: number of timed rounds (>= 1).
        warmup: number of untimed rounds made first (>= 0).

    Returns:
        name -> median wall time.

    Raises:
        ValueError: if ``repeat`` < 1 or ``warmup`` < 0.
    """
    if repeat < 1 or warmup < 0:
        msg = f"time_interleaved needs repeat >= 1 and warmup >= 0. Got repeat={repeat}, warmup={warmup}."
        raise ValueError(msg)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine_info() -> dict:
    """Python, platform, CPU count and library versions of this machine."""
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    for mod in ("torch", "numpy", "scipy"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    if hasattr(os, "getloadavg"):  # other processes competing for the CPU skew timings
        info["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
    return info


def write_result(name: str, result: dict, *, results_dir: Path | str | None = None) -> Path:
    """Write ``{"benchmark": name, "machine": ..., **result}`` to ``<results_dir>/<name>.json``.

    The file is written to a temporary name in the same folder and then renamed, so a
    reader never sees a half-written file.

    Args:
        name: benchmark name (file stem).
        result: JSON-serialisable measurements (timings, ratios, targets).
        results_dir: output folder; ``benchmarks/results`` by default.

    Returns:
        The path of the written file.
    """
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine_info(), **result}
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".json.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, indent=2, sort_keys=False, default=float)
            fh.write("\n")
        target = folder / f"{name}.json"
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
