"""Read the files of a completed run folder back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..experiments import Result, Verdict
from ..report import RunPage
from .errors import DamagedRunError
from .record import RunRecord
from .writer import METADATA_NAME, PARAMS_NAME, TABLE_NAME, VERDICT_NAME


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
    """The details of a run; runs that did not complete have only their record."""
    if not record.completed or not record.path.is_dir():
        return RunDetails(record, {}, {}, {})
    folder = record.path
    return RunDetails(record, read_json(folder / PARAMS_NAME), read_json(folder / VERDICT_NAME),
                      read_json(folder / METADATA_NAME))


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file of a run folder.

    Raises:
        RunStoreError: the file is missing or not valid JSON.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = (f"Cannot read {path}: {exc}. The run folder is damaged; delete it and run "
               "the experiment again.")
        raise DamagedRunError(msg) from exc


def read_table(path: Path) -> pd.DataFrame:
    """The Parquet result table of a run folder.

    Raises:
        RunStoreError: the file is missing or not valid Parquet.
    """
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:
        msg = (f"Cannot read {path}: {exc}. The run folder is damaged; delete it and run "
               "the experiment again.")
        raise DamagedRunError(msg) from exc


def read_result(folder: Path) -> Result:
    """The stored :class:`Result` of a run folder.

    The figures are not rebuilt as matplotlib objects: ``Result.figures`` is empty and
    ``Result.metadata["figure_files"]`` maps each figure name to its PNG path. The surfaces
    are rebuilt as :class:`~valleys.surface.Surface` objects from ``surfaces/*.npz``.
    """
    metadata = read_json(folder / METADATA_NAME)
    result_meta = dict(metadata.get("result", {}))
    result_meta["figure_files"] = {name: str(folder / rel)
                                   for name, rel in metadata.get("figures", {}).items()}
    verdict = Verdict.from_dict(read_json(folder / VERDICT_NAME))
    return Result(read_table(folder / TABLE_NAME), verdict, {}, result_meta,
                  surfaces=read_surfaces(folder, metadata.get("surfaces", {}), objects=True))


def read_page(record: RunRecord) -> RunPage:
    """The report page of a completed run, from its stored files."""
    folder = record.path
    metadata = read_json(folder / METADATA_NAME)
    return RunPage(run_id=record.run_id, experiment=record.experiment,
                   source=str(metadata.get("source", "")), claim=str(metadata.get("claim", "")),
                   status=record.status, params=read_json(folder / PARAMS_NAME),
                   verdict=read_json(folder / VERDICT_NAME),
                   table=read_table(folder / TABLE_NAME),
                   figures=dict(metadata.get("figures", {})), metadata=metadata,
                   started=record.started, surfaces=read_surfaces(folder, metadata.get("surfaces", {})))


def read_surfaces(folder: Path, files: dict[str, str], *, objects: bool = False) -> dict[str, Any]:
    """name -> ``{"x", "y", "losses"}`` from the run's ``surfaces/*.npz`` (no pickles allowed),
    or name -> :class:`~valleys.surface.Surface` with ``objects=True``.

    Raises:
        RunStoreError: a listed file is missing, outside the run folder or not a valid ``.npz``.
    """
    import numpy as np

    out = {}
    root = Path(folder).resolve()
    for name, rel in files.items():
        path = (root / str(rel)).resolve()
        try:
            if root not in path.parents:
                raise ValueError("the path leaves the run folder")
            with np.load(path, allow_pickle=False) as data:
                arrays = {"x": data["x"], "y": data["y"] if "y" in data.files else None,
                          "losses": data["losses"]}
                if objects:
                    from ..surface import Surface

                    arrays = Surface(arrays["x"], arrays["y"], arrays["losses"], data["origin"], data["directions"])
                out[str(name)] = arrays
        except (OSError, ValueError, KeyError) as exc:
            msg = (f"Cannot read the surface {name!r} from {path}: {exc}. The run folder is damaged; "
                   "delete it and run the experiment again.")
            raise DamagedRunError(msg) from exc
    return out
