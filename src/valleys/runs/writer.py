"""Write the parts of a finished run (params, table, verdict, figures, metadata) into a folder.

Every file goes through :func:`~valleys._atomic.atomic_path`. The folder itself is the
run's temporary folder; the store renames it into place once everything is written.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .._atomic import atomic_path, write_text
from ..record import Params, Verdict
from ..record.figures import close_figures  # noqa: F401  (re-exported: valleys.runs.writer.close_figures)
from . import jsonio

PARAMS_NAME = "params.json"
TABLE_NAME = "results.parquet"
VERDICT_NAME = "verdict.json"
METADATA_NAME = "metadata.json"
FIGURES_DIR = "figures"
SURFACES_DIR = "surfaces"
FIGURE_DPI = 120
"""Resolution of the stored PNG figures (dots per inch)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_params(folder: Path, params: Params) -> None:
    """``params.json``: the full parameter set of the run.

    Args:
        folder: the run folder.
        params: the run's parameters.
    """
    write_text(folder / PARAMS_NAME, jsonio.dumps(params.to_dict()))


def write_verdict(folder: Path, verdict: Verdict) -> None:
    """``verdict.json``: ``Verdict.to_dict()``.

    Args:
        folder: the run folder.
        verdict: the run's verdict.
    """
    write_text(folder / VERDICT_NAME, jsonio.dumps(verdict.to_dict()))


def write_metadata(folder: Path, metadata: dict[str, Any]) -> None:
    """``metadata.json``: provenance plus the experiment's own metadata.

    Args:
        folder: the run folder.
        metadata: the JSON-able metadata.
    """
    write_text(folder / METADATA_NAME, jsonio.dumps(metadata))


def write_table(folder: Path, table: pd.DataFrame) -> list[str]:
    """``results.parquet`` via pyarrow.

    Object columns that Arrow cannot type (mixed numbers and text, nested objects) are
    stored as text rather than failing the run.

    Args:
        folder: the run folder.
        table: the result table.

    Returns:
        The names of the columns that were converted to text.
    """
    table, converted = parquet_safe(table)
    with atomic_path(folder / TABLE_NAME) as tmp:
        table.to_parquet(tmp, engine="pyarrow")
    return converted


def parquet_safe(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """A copy of ``table`` that Arrow can store, and the columns turned into text.

    Column names become text; an object column Arrow cannot type has its values (None aside)
    converted with ``str``.

    Args:
        table: the table.

    Returns:
        ``(copy, converted)``: the storable copy and the names of the converted columns.
    """
    table = table.copy()
    table.columns = [str(c) for c in table.columns]
    converted = []
    for name in table.columns:
        if table[name].dtype != object:
            continue
        try:
            pa.array(table[name], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            table[name] = table[name].map(lambda v: v if v is None else str(v))
            converted.append(name)
    return table, converted


def save_figures(folder: Path, figures: dict[str, Any]) -> dict[str, str]:
    """Save each figure as ``figures/<name>.png`` and close it.

    Args:
        folder: the run folder.
        figures: named matplotlib figures (or axes, whose figure is saved).

    Returns:
        The figure name -> path relative to ``folder`` (names are made file-safe and
        unique).
    """
    if not figures:
        return {}
    import matplotlib.pyplot as plt

    def write(fig, path: Path) -> None:
        fig = fig if hasattr(fig, "savefig") else fig.figure
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        finally:
            plt.close(fig)

    return _save_named(folder, FIGURES_DIR, "png", figures, write)


def save_surfaces(folder: Path, surfaces: dict[str, Any]) -> dict[str, str]:
    """Save each :class:`~valleys.surface.Surface` as ``surfaces/<name>.npz`` (atomically).

    Args:
        folder: the run folder.
        surfaces: name → Surface.

    Returns:
        The surface name -> path relative to ``folder`` (file-safe, unique names).
    """
    if not surfaces:
        return {}
    return _save_named(folder, SURFACES_DIR, "npz", surfaces, lambda surf, path: surf.save_npz(path))


def _save_named(folder: Path, subdir: str, suffix: str, items: dict[str, Any], write) -> dict[str, str]:
    """``write(item, path)`` each item to ``<subdir>/<file-safe unique name>.<suffix>``; the
    name -> relative path map."""
    (folder / subdir).mkdir(exist_ok=True)
    saved: dict[str, str] = {}
    used: set[str] = set()
    for name, item in items.items():
        rel = f"{subdir}/{_unique_stem(str(name), used)}.{suffix}"
        write(item, folder / rel)
        saved[str(name)] = rel
    return saved


def surface_arrays(surfaces: dict[str, Any]) -> dict[str, dict]:
    """name -> ``{"x", "y", "losses"}`` of Surface objects, for a report page.

    Args:
        surfaces: name → Surface.

    Returns:
        Name → dict of the three arrays (``y`` None for a 1-D slice).
    """
    return {str(name): {"x": s.x, "y": s.y, "losses": s.losses} for name, s in surfaces.items()}


def _unique_stem(name: str, used: set[str]) -> str:
    stem = _UNSAFE.sub("_", name).strip("._") or "figure"
    candidate, k = stem, 2
    while candidate.lower() in used:
        candidate, k = f"{stem}_{k}", k + 1
    used.add(candidate.lower())
    return candidate
