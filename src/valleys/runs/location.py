"""Where the run store lives: an explicit folder, else ``$VALLEYS_RUNS``, else ``./runs``."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "VALLEYS_RUNS"
DEFAULT_DIRNAME = "runs"


def resolve_runs_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The run store folder to use.

    Args:
        explicit: a folder given by the caller (``--runs-dir``); wins when set.

    Returns:
        ``explicit`` if given, else the ``VALLEYS_RUNS`` environment variable if set and
        non-empty, else ``runs/`` in the current working directory (not resolved further,
        so that messages show the folder as the user wrote it).
    """
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return Path.cwd() / DEFAULT_DIRNAME
