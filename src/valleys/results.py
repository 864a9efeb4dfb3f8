"""Result objects as data: ``to_dict()`` (JSON-able), ``to_frame()`` (pandas) and a short repr,
and the library's one JSON converter, :func:`to_jsonable` (with :func:`dumps`, the text of
run files).

Every result dataclass of :mod:`valleys.curvature` and :mod:`valleys.critical`, and
:class:`~valleys.record.Check`, :class:`~valleys.record.Verdict` and
:class:`~valleys.record.Result`, derive from :class:`Record`. ``to_dict`` turns arrays and
tensors into (nested) lists, tuples into lists, non-finite floats into the strings
``"inf"``, ``"-inf"`` and ``"nan"`` (so that ``json.dumps(..., allow_nan=False)`` accepts
it) and nested records into dicts; with ``arrays=False`` arrays are replaced by their shape
and range. ``to_frame`` is one tidy table per class (one row per eigenvalue, probe, node,
...). The repr prints scalars and summarises arrays as ``array(shape, min..max)``, wrapped to a few lines.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

#: Width of a repr line; reprs are wrapped to this many characters.
REPR_WIDTH = 100
#: Most characters of a repr (a longer one is cut with an ellipsis).
REPR_MAX = 4 * REPR_WIDTH


def _float(x: float, strict: bool = True):
    x = float(x)
    return x if math.isfinite(x) or not strict else str(x)


def to_jsonable(value: Any, *, arrays: bool = True, strict: bool = True) -> Any:
    """``value`` as plain JSON types: the one converter of the library (run files, records,
    checks and metadata all go through it).

    Records become their :meth:`Record.to_dict`, other dataclasses the dict of their fields;
    NumPy/torch scalars become Python numbers, arrays, tensors, tuples and sets lists, a
    DataFrame a dict of column lists, a torch dtype its name (``"float64"``), paths and
    unknown objects their text, dict keys text; non-finite floats become the strings
    ``"inf"``, ``"-inf"`` and ``"nan"`` (JSON has no such numbers).

    Args:
        value: any value a result, check or run may hold.
        arrays: include arrays as nested lists; False replaces each array of more than one
            entry (and each DataFrame) by a one-line summary.
        strict: write non-finite floats as strings (valid JSON); False keeps them as floats.

    Returns:
        A value made of dict, list, str, int, float, bool and None only.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, Record):
        return value.to_dict(arrays=arrays, strict=strict)
    if isinstance(value, torch.Tensor | np.ndarray | np.generic):
        if isinstance(value, torch.Tensor):
            value = value.detach()
        if not arrays and value.ndim and _size(value) > 1:
            return summary(value)
        return to_jsonable(value.tolist(), arrays=arrays, strict=strict)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _float(value, strict)
    if isinstance(value, pd.DataFrame):
        return (to_jsonable(value.to_dict(orient="list"), arrays=arrays, strict=strict) if arrays
                else f"DataFrame{value.shape}")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), arrays=arrays, strict=strict)
                for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, arrays=arrays, strict=strict) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, arrays=arrays, strict=strict) for v in value]
    if isinstance(value, torch.dtype):
        return str(value).replace("torch.", "")
    if hasattr(value, "tolist"):  # pandas Series and Index, other array types
        return to_jsonable(value.tolist(), arrays=arrays, strict=strict)
    return str(value)


def _size(value) -> int:
    return value.numel() if isinstance(value, torch.Tensor) else value.size


def dumps(value: Any) -> str:
    """Indented, key-sorted JSON text of ``to_jsonable(value)`` ending in a newline (the
    text of every JSON file the run store writes).

    Args:
        value: any value :func:`to_jsonable` accepts.

    Returns:
        The JSON text (two-space indent, sorted keys, no NaN/Infinity literals) with a final
        newline.
    """
    return json.dumps(to_jsonable(value), indent=2, sort_keys=True, allow_nan=False) + "\n"


def summary(value) -> str:
    """A one-line summary of a value for a repr.

    Arrays and tensors of up to 4 entries print in full (4 significant digits), larger ones
    as ``array(shape), min..max`` of their finite entries; DataFrames as their row and column
    counts, floats with 6 significant digits, records as ``Name(...)`` and anything else as
    its repr cut to 60 characters.

    Args:
        value: the value to summarise (any type).

    Returns:
        The summary text.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return f"array{value.shape}"
        if value.size <= 4:
            return np.array2string(value, precision=4, separator=", ")
        if value.dtype.kind in "fiu":
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
            rng = f", {finite.min():.4g}..{finite.max():.4g}" if finite.size else ""
            return f"array{value.shape}{rng}"
        return f"array{value.shape}"
    if isinstance(value, pd.DataFrame):
        return f"DataFrame({value.shape[0]} rows x {value.shape[1]} columns)"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, Record):
        return f"{type(value).__name__}(...)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Record:
    """Base of the result dataclasses: ``to_dict``, ``to_frame`` and a short repr.

    Subclasses list the fields to leave out of the repr in ``_repr_skip`` and out of
    :meth:`to_dict` in ``_dict_skip``, add derived values in :meth:`_extra` and implement
    :meth:`to_frame` where a row structure exists.
    """

    _repr_skip: ClassVar[tuple[str, ...]] = ()
    _dict_skip: ClassVar[tuple[str, ...]] = ()

    def to_dict(self, *, arrays: bool = True, strict: bool = True) -> dict:
        """The fields (and key properties) as a JSON-able dict.

        Args:
            arrays: include arrays as nested lists; False replaces each array by a
                one-line summary (shape and range).
            strict: write non-finite floats as the strings "inf", "-inf", "nan" (valid
                JSON); False keeps them as floats.

        Returns:
            A dict of plain JSON types: one entry per dataclass field (those in ``_dict_skip``
            aside) plus the record's extra key properties.
        """
        out = {f.name: to_jsonable(getattr(self, f.name), arrays=arrays, strict=strict)
               for f in dataclasses.fields(self) if f.name not in self._dict_skip}
        out.update({k: to_jsonable(v, arrays=arrays, strict=strict) for k, v in self._extra().items()})
        return out

    def _extra(self) -> dict:
        """Derived values added to :meth:`to_dict` (properties)."""
        return {}

    def to_frame(self) -> pd.DataFrame:  # overridden where a row structure exists
        """A one-row table of the scalar fields.

        Returns:
            A one-row :class:`pandas.DataFrame` whose columns are the scalar entries of
            ``to_dict(arrays=False, strict=False)`` (lists, dicts and array summaries dropped).
        """
        row = {k: v for k, v in self.to_dict(arrays=False, strict=False).items()
               if not isinstance(v, list | dict) and not (isinstance(v, str) and v.startswith("array"))}
        return pd.DataFrame([row])

    def __repr__(self) -> str:
        parts = [f"{f.name}={summary(getattr(self, f.name))}" for f in dataclasses.fields(self)
                 if f.name not in self._repr_skip]
        text = f"{type(self).__name__}(" + ", ".join(parts) + ")"
        text = "\n    ".join(textwrap.wrap(text, REPR_WIDTH, break_long_words=False,
                                           break_on_hyphens=False))
        return text if len(text) <= REPR_MAX else text[: REPR_MAX - 4] + " ...)"
