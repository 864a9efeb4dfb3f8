"""What an experiment returns: a tidy table, a verdict of named checks, figures, metadata."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Check:
    """One comparison of a measured value against the theory.

    Args:
        name: what is checked, e.g. ``"saddle eigenvalues at origin"``.
        measured: the measured value (a number, or a short text for counts/sets).
        expected: what the theory says (a number or a short statement such as ``">= 0.5"``).
        tolerance: the tolerance or threshold used to decide (None if exact).
        passed: whether the measurement agrees with the theory.
        note: optional explanation (an erratum, the threshold policy, ...).
    """

    name: str
    measured: Any
    expected: Any
    tolerance: float | None
    passed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = bool(self.passed)
        for key in ("measured", "expected", "tolerance"):
            out[key] = _jsonable(out[key])
        return out


@dataclass
class Verdict:
    """The list of checks of a run; it passes when every check passes."""

    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, measured, expected, tolerance: float | None, passed: bool,
            note: str = "") -> Check:
        """Append a check and return it."""
        check = Check(name, _jsonable(measured), _jsonable(expected), tolerance, bool(passed), note)
        self.checks.append(check)
        return check

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def summary(self) -> str:
        n_pass = sum(c.passed for c in self.checks)
        word = "agrees" if self.passed else "disagrees"
        return f"{word} ({n_pass}/{len(self.checks)} checks passed)"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "summary": self.summary,
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls([Check(**c) for c in data.get("checks", [])])


@dataclass
class Result:
    """The outcome of one experiment run.

    Args:
        table: tidy DataFrame, one row per measurement.
        verdict: the checks against the theory.
        figures: named matplotlib figures (saved as ``figures/<name>.png``).
        metadata: extra facts (thresholds, sizes, ...); the run store adds versions,
            seed and wall time.
    """

    table: pd.DataFrame
    verdict: Verdict
    figures: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def _jsonable(value):
    """Convert NumPy/torch scalars and containers to plain JSON-friendly Python values."""
    if value is None or isinstance(value, str | bool):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
