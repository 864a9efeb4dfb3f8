"""Progress bars of long library operations: tqdm on stderr, silent when stderr is not a TTY.

``progress=None`` (the default everywhere) shows a bar only on a terminal; ``True`` always
shows it, ``False`` never. Two flavours, kept as they were when they lived in two packages:

* :func:`progress_bar` (core, paths): plain ``tqdm``; with ``progress=None`` it appears only
  once the operation has run for :data:`DELAY_S` seconds, so quick calls print nothing.
* :func:`bar` (curvature, critical): ``tqdm.auto`` (a widget in notebooks), shown at once.
"""

from __future__ import annotations

import sys

from tqdm import tqdm
from tqdm.auto import tqdm as auto_tqdm

from ._validation import check_bool

#: With ``progress=None`` a :func:`progress_bar` appears only after this many seconds.
DELAY_S = 2.0


def progress_bar(total: int, desc: str, progress: bool | None = None, unit: str = "it") -> tqdm:
    """A tqdm bar of ``total`` steps on stderr (see the module docstring for ``progress``)."""
    if progress is not None:
        check_bool(progress, "progress", desc)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                disable=None if progress is None else not progress,
                delay=DELAY_S if progress is None else 0.0)


def bar(total: int | None, desc: str, progress: bool | None, unit: str = "it") -> tqdm:
    """A ``tqdm.auto`` bar on stderr of ``total`` steps, shown as ``progress`` says."""
    if progress is not None:
        progress = check_bool(progress, "progress", desc)
    disable = None if progress is None else not progress
    return auto_tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr, disable=disable)
