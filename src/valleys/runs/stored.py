"""Read the files of a completed run folder back."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..record import Result, Verdict
from .errors import DamagedRunError, SurfaceTooLargeError
from .pages import RunPage
from .record import RunRecord
from .runfiles import UnsafeRunFileError, open_run_file, run_file
from .surface_cap import MAX_SURFACE_POINTS, too_large_note
from .writer import FIGURES_DIR, METADATA_NAME, PARAMS_NAME, TABLE_NAME, VERDICT_NAME

SURFACE_ARRAYS = ("x", "y", "losses")
"""The arrays of a stored surface that a report page shows."""


@dataclass(frozen=True)
class RunDetails:
    """A run's record with its stored parameters, verdict and metadata.

    Args:
        record: the catalogue row.
        params: parameter name -> value (empty unless the run completed).
        verdict: ``Verdict.to_dict()`` (empty unless the run completed).
        metadata: the contents of ``metadata.json`` (empty unless the run completed).
    """

    record: RunRecord
    params: dict[str, Any]
    verdict: dict[str, Any]
    metadata: dict[str, Any]


def read_details(record: RunRecord) -> RunDetails:
    """The details of a run; runs that did not complete have only their record.

    Args:
        record: the run's record.

    Returns:
        The :class:`RunDetails` with the stored parameters, verdict and metadata (empty
        dicts when the run did not complete or its folder is gone).

    Raises:
        RunStoreError: a JSON file of the folder is missing, a link or damaged.
    """
    if not record.completed or not record.path.is_dir():
        return RunDetails(record, {}, {}, {})
    folder = record.path
    return RunDetails(record, read_json(folder / PARAMS_NAME), read_json(folder / VERDICT_NAME),
                      read_json(folder / METADATA_NAME))


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file of a run folder (never through a symbolic link, see :mod:`.runfiles`).

    Args:
        path: the file.

    Returns:
        The parsed JSON object.

    Raises:
        RunStoreError: the file is missing, a link, or not valid JSON.
    """
    path = Path(path)
    try:
        with open_run_file(path.parent, path.name) as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise _damaged(path, exc) from exc


def _damaged(path: Path, exc: Exception) -> DamagedRunError:
    """The error for a run file that cannot be read (a link stays an UnsafeRunFileError)."""
    kind = UnsafeRunFileError if isinstance(exc, UnsafeRunFileError) else DamagedRunError
    return kind(f"Cannot read {path}: {str(exc).rstrip('.')}. The run folder is damaged; delete "
                "it and run the experiment again.")


def read_table(path: Path) -> pd.DataFrame:
    """The Parquet result table of a run folder.

    Args:
        path: the table file.

    Returns:
        The table as a :class:`pandas.DataFrame`.

    Raises:
        RunStoreError: the file is missing, a link, or not valid Parquet.
    """
    path = Path(path)
    try:
        with open_run_file(path.parent, path.name) as handle:
            return pd.read_parquet(handle, engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise _damaged(path, exc) from exc


def read_result(folder: Path) -> Result:
    """The stored :class:`Result` of a run folder.

    The figures are not rebuilt as matplotlib objects: ``Result.figures`` is empty and
    ``Result.metadata["figure_files"]`` maps each figure name to its PNG path. The surfaces
    are rebuilt as :class:`~valleys.surface.Surface` objects from ``surfaces/*.npz``.

    Args:
        folder: the completed run's folder.

    Returns:
        The :class:`~valleys.record.Result`.

    Raises:
        RunStoreError: a stored file is missing, a link or damaged.
    """
    metadata = read_json(folder / METADATA_NAME)
    result_meta = dict(metadata.get("result", {}))
    result_meta["figure_files"] = {name: str(folder / rel)
                                   for name, rel in metadata.get("figures", {}).items()}
    verdict = Verdict.from_dict(read_json(folder / VERDICT_NAME))
    return Result(table=read_table(folder / TABLE_NAME), verdict=verdict, figures={}, metadata=result_meta,
                  surfaces=read_surfaces(folder, metadata.get("surfaces", {}), objects=True))


def read_page(record: RunRecord, *, max_surface_points: int = MAX_SURFACE_POINTS) -> RunPage:
    """The report page of a completed run, from its stored files.

    Figures and surfaces that are symbolic links, not regular files, outside the run folder
    (or, for figures, outside ``figures/``), and surfaces beyond ``max_surface_points`` grid
    points on the page in all, are left out; ``RunPage.notes`` says which and why.

    Args:
        record: the completed run's record.
        max_surface_points: the most grid points of all surfaces on the page together.

    Returns:
        The :class:`~valleys.runs.pages.RunPage`.

    Raises:
        RunStoreError: the run folder, or one of its JSON or Parquet files, is a link,
            missing or damaged.
    """
    folder = record.path
    if folder.is_symlink():
        raise UnsafeRunFileError(f"The run folder {folder} is a symbolic link; reports never "
                                 "follow links out of a run folder.")
    metadata = read_json(folder / METADATA_NAME)
    figures, figure_notes = _page_figures(folder, metadata.get("figures", {}))
    surfaces, surface_notes = _page_surfaces(folder, metadata.get("surfaces", {}), max_surface_points)
    return RunPage(run_id=record.run_id, experiment=record.experiment,
                   source=str(metadata.get("source", "")), claim=str(metadata.get("claim", "")),
                   status=record.status, params=read_json(folder / PARAMS_NAME),
                   verdict=read_json(folder / VERDICT_NAME),
                   table=read_table(folder / TABLE_NAME),
                   figures=figures, metadata=metadata, started=record.started,
                   surfaces=surfaces, notes=tuple(figure_notes + surface_notes))


def _page_figures(folder: Path, files: Any) -> tuple[dict[str, str], list[str]]:
    """The figures (name -> path relative to the run folder) that are regular files under
    ``figures/``, and a note for each one left out."""
    kept: dict[str, str] = {}
    notes: list[str] = []
    for name, rel in (files.items() if isinstance(files, dict) else ()):
        try:
            if not str(rel).startswith(FIGURES_DIR + "/"):
                raise UnsafeRunFileError(f"{rel!r} is not in the run's {FIGURES_DIR}/ folder.")
            run_file(folder, str(rel))
        except DamagedRunError as exc:
            notes.append(f"figure {str(name)!r} left out: {exc}")
            continue
        kept[str(name)] = str(rel)
    return kept, notes


def _page_surfaces(folder: Path, files: Any, cap: int) -> tuple[dict[str, dict], list[str]]:
    """The surfaces that are safe to read and fit under ``cap`` grid points together, and a
    note for each one left out (a corrupt surface file raises DamagedRunError)."""
    kept: dict[str, dict] = {}
    notes: list[str] = []
    used = 0
    for name, rel in (files.items() if isinstance(files, dict) else ()):
        try:
            arrays = read_surface(folder, str(name), str(rel), max_points=cap - used, cap=cap)
        except (UnsafeRunFileError, SurfaceTooLargeError) as exc:
            notes.append(str(exc) if isinstance(exc, SurfaceTooLargeError)
                         else f"surface {str(name)!r} left out: {exc}")
            continue
        kept[str(name)] = arrays
        used += int(np.size(arrays["losses"]))
    return kept, notes


def read_surfaces(folder: Path, files: dict[str, str], *, objects: bool = False) -> dict[str, Any]:
    """name -> ``{"x", "y", "losses"}`` from the run's ``surfaces/*.npz`` (no pickles allowed),
    or name -> :class:`~valleys.surface.Surface` with ``objects=True``.

    Args:
        folder: the run folder.
        files: surface name → its ``.npz`` path relative to ``folder``.
        objects: build Surface objects.

    Returns:
        Surface name → arrays dict or Surface (see :func:`read_surface`).

    Raises:
        RunStoreError: a listed file is missing, a link, outside the run folder or not a
            valid ``.npz``.
    """
    return {str(name): read_surface(folder, str(name), str(rel), objects=objects)
            for name, rel in files.items()}


def read_surface(folder: Path, name: str, rel: str, *, objects: bool = False,
                 max_points: int | None = None, cap: int | None = None) -> Any:
    """One stored surface: ``{"x", "y", "losses"}`` arrays, or a Surface with ``objects=True``.

    The shapes and types of the arrays are read from the ``.npy`` headers inside the
    ``.npz`` before anything is decompressed; only numeric arrays whose shapes agree are
    loaded (``allow_pickle=False``).

    Args:
        folder: the run folder.
        name: the surface's name (for messages).
        rel: its ``.npz`` path relative to ``folder``.
        objects: build a :class:`~valleys.surface.Surface` (with origin and directions).
        max_points: the most grid points it may have (None: no cap).
        cap: the page's cap, named in the message (default ``max_points``).

    Raises:
        UnsafeRunFileError: the file is a link, not a regular file, or outside the folder.
        SurfaceTooLargeError: it has more than ``max_points`` grid points.
        DamagedRunError: the file is missing or not a valid surface ``.npz``.

    Returns:
        A dict of arrays ``x``, ``y`` (None for a 1-D slice) and ``losses``, or a
        :class:`~valleys.surface.Surface` with ``objects=True``.
    """
    import zipfile

    wanted = SURFACE_ARRAYS + (("origin", "directions") if objects else ())
    try:
        with open_run_file(folder, rel) as handle:
            headers = _npz_headers(handle, wanted)
            points = _surface_points(headers)
            if max_points is not None and points > max_points:
                raise SurfaceTooLargeError(too_large_note(name, points, max(max_points, 0),
                                                          max_points if cap is None else cap))
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                arrays = {key: data[key] if key in headers else None for key in wanted}
    except (UnsafeRunFileError, SurfaceTooLargeError):
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        msg = (f"Cannot read the surface {name!r} from {Path(folder) / rel}: {str(exc).rstrip('.')}. The run folder "
               "is damaged; delete it and run the experiment again.")
        raise DamagedRunError(msg) from exc
    if not objects:
        return {key: arrays[key] for key in SURFACE_ARRAYS}
    from ..surface import Surface

    return Surface(arrays["x"], arrays["y"], arrays["losses"], arrays["origin"], arrays["directions"])


def _npz_headers(handle, names: tuple[str, ...]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """name -> (shape, dtype) of the arrays ``names`` of an open ``.npz``, read from their
    ``.npy`` headers (nothing else is decompressed); ``y`` may be absent (a line).

    Raises:
        ValueError: a member is missing (other than ``y``), has an unknown ``.npy`` version,
            or is not a numeric array.
    """
    import zipfile

    from numpy.lib import format as npy

    out = {}
    with zipfile.ZipFile(handle) as archive:
        members = set(archive.namelist())
        for name in names:
            if f"{name}.npy" not in members:
                if name == "y":
                    continue
                raise ValueError(f"the array {name!r} is missing")
            with archive.open(f"{name}.npy") as member:
                version = npy.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = npy.read_array_header_2_0(member)
                else:
                    raise ValueError(f"the array {name!r} has .npy version {version}")
            if dtype.hasobject or dtype.kind not in "biuf":
                raise ValueError(f"the array {name!r} is not numeric ({dtype})")
            out[name] = (tuple(int(n) for n in shape), dtype)
    return out


def _surface_points(headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> int:
    """The number of grid points of a surface from its headers, checking that the shapes
    agree: x (nx,), y (ny,) and losses (ny, nx), or x (nx,) and losses (nx,) for a line.

    Raises:
        ValueError: the shapes disagree.
    """
    x, losses = headers["x"][0], headers["losses"][0]
    expected = (x[0],) if len(x) == 1 else None
    if "y" in headers and len(x) == 1 and len(headers["y"][0]) == 1:
        expected = (headers["y"][0][0], x[0])
    if expected is None or losses != expected:
        raise ValueError(f"the surface arrays have inconsistent shapes (x {x}, losses {losses})")
    return math.prod(losses)
