"""How many surface grid points one report page holds, and which surfaces fit.

Shared by the run store (which reads stored surfaces and caps them before decompressing)
and the report (which draws them).
"""

from __future__ import annotations

import numpy as np

MAX_SURFACE_POINTS = 250_000
"""Most grid points (loss values) of all surfaces shown on one report page together (a
500 x 500 plane; each point costs about 20 bytes of page). A surface beyond what is left
is left out of the page with a note; raise the cap with ``valleys report --all
--max-surface-points N`` (``max_surface_points=`` of ``RunStore.rebuild_report``)."""


def too_large_note(name: str, points: int, room: int, cap: int) -> str:
    """Why the surface ``name`` (``points`` grid points) is left out of a page with ``room``
    points left under the cap ``cap``, and how to raise the cap.

    Args:
        name: the surface's name.
        points: its grid points.
        room: the points left under the cap.
        cap: the cap.

    Returns:
        One sentence naming ``valleys report --all --max-surface-points N``.
    """
    return (f"surface {name!r} left out: it has {points} grid points and the page has room for "
            f"{room} of at most {cap} (MAX_SURFACE_POINTS); raise the cap with "
            "'valleys report --all --max-surface-points N'.")


def limit_surfaces(surfaces: dict[str, dict], cap: int = MAX_SURFACE_POINTS) -> tuple[dict[str, dict], list[str]]:
    """The surfaces (``{"x", "y", "losses"}`` arrays) that fit under ``cap`` grid points
    together, in order, and a note for each one left out (see :func:`too_large_note`).

    A surface that does not fit is skipped; later, smaller ones may still fit.

    Args:
        surfaces: name → arrays dict.
        cap: the most grid points of the kept surfaces together.

    Returns:
        ``(kept, notes)``: the kept surfaces and one note per surface left out.
    """
    kept: dict[str, dict] = {}
    notes: list[str] = []
    used = 0
    for name, arrays in surfaces.items():
        points = int(np.size(arrays["losses"]))
        if used + points > cap:
            notes.append(too_large_note(str(name), points, cap - used, cap))
            continue
        kept[name] = arrays
        used += points
    return kept, notes
