"""Progress bars of the curvature and critical-point functions (tqdm on stderr).

``progress=None`` (the default) shows a bar only when stderr is a terminal (silent in
tests, pipes and notebooks' captured output); ``True`` always shows it, ``False`` never.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

from .._validation import check_bool


def bar(total: int | None, desc: str, progress: bool | None, unit: str = "it") -> tqdm:
    """A tqdm bar on stderr of ``total`` steps, shown as ``progress`` says."""
    if progress is not None:
        progress = check_bool(progress, "progress", desc)
    disable = None if progress is None else not progress
    return tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr, disable=disable)
