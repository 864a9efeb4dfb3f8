"""Interactive 3-D loss surfaces in a run's report (plotly), working offline.

The plotly JavaScript bundle is written once per runs folder, as
``<runs>/_assets/plotly-<version>.min.js`` (atomically, only when missing), and every
report refers to it relatively (``../_assets/...``): no page fetches anything from a CDN,
and a runs folder copied elsewhere keeps working. The pages embed each surface's data
(x, y and loss values) as JSON through ``plotly``'s ``to_html(include_plotlyjs=False)``.

Names shown next to a surface are escaped by the page template; plotly only receives
numbers and fixed axis titles.
"""

from __future__ import annotations

from pathlib import Path

import markupsafe
import numpy as np

#: Folder of shared report assets inside a runs folder.
ASSETS_DIR = "_assets"




SURFACE_HEIGHT = 560
"""Height (px) of an interactive surface's frame."""

SURFACE_EYE = {"x": 1.35, "y": 1.35, "z": 0.8}
"""The initial camera position of an interactive surface: far enough that the whole box,
axis labels included, fits in the frame (plotly's default view clips its lower corner)."""


def plotly_asset_name() -> str:
    """``plotly-<version>.min.js``: the bundle's file name, versioned so that upgrades coexist.

    Returns:
        The file name of the installed plotly's bundle.
    """
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


def plotly_src() -> str:
    """The bundle's address relative to a run's ``report.html`` (one folder below the runs folder).

    Returns:
        ``../_assets/plotly-<version>.min.js``.
    """
    return f"../{ASSETS_DIR}/{plotly_asset_name()}"


def ensure_plotly_asset(root: str | Path) -> Path:
    """Write ``<root>/_assets/plotly-<version>.min.js`` if it is missing; return its path.

    The file is written to a temporary name and renamed, so a concurrent writer or a crash
    never leaves a partial bundle under the final name.

    Args:
        root: the runs folder.

    Returns:
        The path of the bundle.
    """
    from plotly.offline import get_plotlyjs

    from .._atomic import write_text

    path = Path(root) / ASSETS_DIR / plotly_asset_name()
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, get_plotlyjs())
    return path


def surface_div(x, y, z, *, div_id: str) -> markupsafe.Markup:
    """The HTML ``<div>`` and ``<script>`` of one interactive surface (no plotly bundle).

    Args:
        x: coordinates along the first direction (nx,).
        y: coordinates along the second direction (ny,).
        z: losses (ny, nx); non-finite values become gaps.
        div_id: the element id (made of letters, digits and dashes by the caller).

    Returns:
        The figure's HTML as safe markup (it holds only numbers and fixed strings).
    """
    import plotly.graph_objects as go

    z = np.asarray(z, dtype=float)
    zlist = [[float(v) if np.isfinite(v) else None for v in row] for row in z]
    fig = go.Figure(go.Surface(x=[float(v) for v in np.asarray(x)], y=[float(v) for v in np.asarray(y)],
                               z=zlist, colorscale="Viridis", colorbar={"title": {"text": "loss"}}))
    fig.update_layout(scene={"xaxis_title": "alpha", "yaxis_title": "beta", "zaxis_title": "loss",
                             "aspectratio": {"x": 1, "y": 1, "z": 0.7}, "camera": {"eye": SURFACE_EYE}},
                      margin={"l": 0, "r": 0, "t": 10, "b": 10}, height=SURFACE_HEIGHT)
    html = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
    return markupsafe.Markup(html)  # numbers and fixed strings only


def surface_divs(surfaces: dict[str, dict]) -> list[tuple[str, markupsafe.Markup]]:
    """(name, div) for every 2-D surface of a page (``{"x", "y", "losses"}`` arrays).

    Args:
        surfaces: surface name → dict of arrays ``x``, ``y`` (None for a 1-D slice) and
            ``losses``.

    Returns:
        ``(name, div)`` per 2-D surface, in the order given; 1-D slices are skipped. The div
        ids are ``valleys-surface-<i>`` with i the surface's position.
    """
    out = []
    for i, (name, s) in enumerate(surfaces.items()):
        if s.get("y") is None:
            continue
        out.append((str(name), surface_div(s["x"], s["y"], s["losses"], div_id=f"valleys-surface-{i}")))
    return out
