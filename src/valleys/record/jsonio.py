"""JSON for run files: NumPy/torch scalars, arrays, paths and non-finite floats made plain."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON types.

    NumPy/torch scalars become Python numbers, arrays and tuples become lists, paths and
    unknown objects become strings, and NaN/Inf become the strings ``"nan"``/``"inf"``
    (JSON has no such numbers).

    Args:
        value: any value an experiment may put in its metadata.

    Returns:
        A value made of dict, list, str, int, float, bool and None only.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return to_jsonable(value.item())
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return str(value)


def dumps(value: Any) -> str:
    """Indented, key-sorted JSON text of ``to_jsonable(value)`` ending in a newline."""
    return json.dumps(to_jsonable(value), indent=2, sort_keys=True, allow_nan=False) + "\n"
