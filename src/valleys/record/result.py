"""What an experiment or analysis returns: a tidy table, a verdict of named checks, figures, metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ..results import Record, to_jsonable

KINDS = ("evidence", "consistency", "erratum")
"""What a check proves.

- ``evidence``: it could fail if the theorem were false (an independent computation, a
  closed form computed by separate code, the seed's own number).
- ``consistency``: an identity or a self-check of the code; useful, proves nothing about
  the theorem.
- ``erratum``: a measured deviation from the seed text (passes when the deviation is
  reproduced as stated in the note).
"""


@dataclass(frozen=True)
class Check(Record):
    """One comparison of a measured value against the theory.

    Args:
        name: what is checked, e.g. ``"saddle eigenvalues at origin"``.
        measured: the measured value (a number, or a short text for counts/sets).
        expected: what the theory says (a number or a short statement such as ``">= 0.5"``).
        tolerance: the tolerance or threshold used to decide (None if exact).
        passed: whether the measurement agrees with the theory.
        note: optional explanation (an erratum, the threshold policy, ...).
        kind: ``"evidence"``, ``"consistency"`` or ``"erratum"`` (see :data:`KINDS`).
    """

    name: str
    measured: Any
    expected: Any
    tolerance: float | None
    passed: bool
    note: str = ""
    kind: str = "evidence"

    def __post_init__(self):
        if self.kind not in KINDS:
            msg = f"Check kind must be one of {', '.join(KINDS)}. Got {self.kind!r}."
            raise ValueError(msg)
        object.__setattr__(self, "passed", bool(self.passed))

    def to_frame(self) -> pd.DataFrame:
        """One row: name, measured, expected, tolerance, passed, note, kind."""
        return pd.DataFrame([self.to_dict()])


@dataclass(frozen=True, kw_only=True)
class Verdict(Record):
    """The list of checks of a run.

    It agrees when every check passes *and* at least one of them is evidence: identities
    and self-checks alone never make a verdict agree. The verdict is frozen (its list of
    checks grows only through :meth:`add`).
    """

    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, measured, expected, tolerance: float | None, passed: bool,
            note: str = "", *, kind: str) -> Check:
        """Append a check of the given ``kind`` and return it."""
        check = Check(name=name, measured=to_jsonable(measured), expected=to_jsonable(expected),
                      tolerance=tolerance, passed=bool(passed), note=note, kind=kind)
        self.checks.append(check)
        return check

    def of_kind(self, kind: str) -> list[Check]:
        """The checks of one kind, in order."""
        return [c for c in self.checks if c.kind == kind]

    @property
    def passed(self) -> bool:
        return bool(self.of_kind("evidence")) and all(c.passed for c in self.checks)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Per kind: how many checks there are and how many passed."""
        return {k: {"total": len(self.of_kind(k)), "passed": sum(c.passed for c in self.of_kind(k))}
                for k in KINDS}

    @property
    def summary(self) -> str:
        c = self.counts
        word = "agrees" if self.passed else "disagrees"
        if not c["evidence"]["total"]:
            word = "no evidence"
        parts = [f"{c['evidence']['passed']}/{c['evidence']['total']} evidence"]
        parts += [f"{c[k]['passed']}/{c[k]['total']} {k}" for k in ("consistency", "erratum")
                  if c[k]["total"]]
        return f"{word} ({', '.join(parts)} checks passed)"

    def _extra(self) -> dict[str, Any]:
        return {"passed": self.passed, "summary": self.summary, "counts": self.counts}

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, kind, measured, expected, tolerance, passed, note."""
        columns = ["name", "kind", "measured", "expected", "tolerance", "passed", "note"]
        return pd.DataFrame([{k: c.to_dict()[k] for k in columns} for c in self.checks],
                            columns=columns)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(checks=[Check(**c) for c in data.get("checks", [])])


@dataclass(frozen=True)
class Result(Record):
    """The outcome of one experiment run.

    Args:
        table: tidy DataFrame, one row per measurement.
        verdict: the checks against the theory.
        figures: named matplotlib figures (saved as ``figures/<name>.png``).
        metadata: extra facts (thresholds, sizes, ...); the run store adds versions,
            seed and wall time.
        surfaces: named :class:`~valleys.surface.Surface` s; the run store keeps each as
            ``surfaces/<name>.npz`` and the report shows every 2-D one as an interactive
            3-D surface.
    """

    table: pd.DataFrame
    verdict: Verdict
    figures: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    surfaces: dict[str, Any] = field(default_factory=dict)

    #: ``to_dict`` holds the verdict and metadata, and only the names of the figures and
    #: surfaces (the table is :meth:`to_frame`).
    _dict_skip: ClassVar[tuple[str, ...]] = ("table", "figures", "surfaces")

    def _extra(self) -> dict[str, Any]:
        return {"figures": sorted(self.figures), "surfaces": sorted(self.surfaces)}

    def to_frame(self) -> pd.DataFrame:
        """The tidy result table."""
        return self.table


def task_outcome(result: Result) -> dict[str, Any]:
    """What a sweep task returns: the table, verdict and metadata of ``result`` as plain
    data (its figures are closed: a worker keeps only data)."""
    from .figures import close_figures

    close_figures(result.figures)
    return {"table": result.to_frame(), "verdict": result.verdict.to_dict(),
            "metadata": to_jsonable(result.metadata)}

