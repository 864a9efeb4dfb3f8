"""Progress bars of long library operations: tqdm on stderr, silent when stderr is not a TTY.

``progress=None`` (the default everywhere) shows a bar only on a terminal and only once the
operation has run for :data:`DELAY_S` seconds, so quick calls and tests print nothing;
``True`` always shows it, ``False`` never.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from ._validation import check_bool

#: With ``progress=None`` a bar appears only after this many seconds.
DELAY_S = 2.0


def progress_bar(total: int, desc: str, progress: bool | None = None, unit: str = "it") -> tqdm:
    """A tqdm bar of ``total`` steps on stderr (see the module docstring for ``progress``)."""
    if progress is not None:
        check_bool(progress, "progress", desc)
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                disable=None if progress is None else not progress,
                delay=DELAY_S if progress is None else 0.0)
