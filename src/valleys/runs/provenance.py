"""Provenance of a run: package versions, host, threads, seed, wall time."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

PACKAGES = ("valleys", "torch", "numpy", "scipy", "pandas", "pyarrow", "matplotlib")


def package_versions() -> dict[str, str]:
    """Installed versions of valleys, its numerical dependencies and Python.

    Returns:
        Package name → version (``"not installed"`` when absent), with ``python``.
    """
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def host_facts() -> dict[str, Any]:
    """CPU count, torch threads, platform and host name of this machine.

    Returns:
        A dict with ``cpu_count``, ``torch_threads``, ``platform`` and ``hostname``.
    """
    import torch

    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "hostname": platform.node()}
