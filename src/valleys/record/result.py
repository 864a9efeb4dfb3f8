"""What an experiment or analysis returns: a tidy table, a verdict of named checks, figures, metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from ..results import Record, to_jsonable

KINDS = ("evidence", "consistency", "erratum", "hypothesis")
"""What a check proves.

- ``evidence``: it could fail if the theorem were false (an independent computation, a
  closed form computed by separate code, the seed's own number).
- ``consistency``: an identity or a self-check of the code; useful, proves nothing about
  the theorem.
- ``erratum``: a measured deviation from the seed text (passes when the deviation is
  reproduced as stated in the note).
- ``hypothesis``: a hypothesis of the theorem, checked on the instances the run generated.
  It never makes a verdict disagree: an instance outside the hypotheses is *not covered*,
  and the judge leaves it out of every evidence check.
"""

STATUSES = ("passed", "failed", "not covered", "insufficient draws", "vacuous", "not reproduced")
"""How a check ended.

- ``passed`` / ``failed``: the check decided;
- ``not covered``: no generated instance satisfies the theorem's hypotheses, so the check
  says nothing about the theorem (for a ``hypothesis`` check: no instance satisfied it);
- ``insufficient draws``: a probabilistic check with fewer draws than its stated minimum;
- ``vacuous``: the bound cannot be falsified at this size (negative, at most 0, or below the
  estimate's resolution 1/draws);
- ``not reproduced``: an ``erratum`` whose deviation from the source did not show on these
  instances (the source's statement held here): not a disagreement with the source.

Only ``passed`` and ``failed`` decide; the others are listed and never count towards
"agrees".
"""

UNDECIDED = frozenset(STATUSES) - {"passed", "failed"}

OUTCOMES = ("agrees", "disagrees", "not covered", "inconclusive", "no evidence", "measured", "measurement failed")
"""What a verdict says (:attr:`Verdict.outcome`).

- ``disagrees``: a deciding evidence, consistency or erratum check failed;
- ``agrees``: at least one evidence check passed and no deciding check failed;
- ``not covered``: there are evidence checks but every one is ``not covered``;
- ``inconclusive``: there are evidence checks, none decided, and not all for want of
  coverage (too few draws, vacuous bounds);
- ``no evidence``: the run has no evidence check at all (identities prove nothing);
- ``measured`` / ``measurement failed``: only for a measurement that checks no theorem
  (``valleys analyze``): every one of its checks passed, or one did not.
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
        kind: ``"evidence"``, ``"consistency"``, ``"erratum"`` or ``"hypothesis"`` (see
            :data:`KINDS`).
        status: how it ended (see :data:`STATUSES`); by default ``"passed"`` or ``"failed"``
            from ``passed``. An undecided status (``"not covered"``, ...) needs
            ``passed=False``.
    """

    name: str
    measured: Any
    expected: Any
    tolerance: float | None
    passed: bool
    note: str = ""
    kind: str = "evidence"
    status: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            msg = f"Check kind must be one of {', '.join(KINDS)}. Got {self.kind!r}."
            raise ValueError(msg)
        object.__setattr__(self, "passed", bool(self.passed))
        status = self.status if self.status is not None else ("passed" if self.passed else "failed")
        if status not in STATUSES:
            msg = f"Check status must be one of {', '.join(STATUSES)}. Got {status!r}."
            raise ValueError(msg)
        if (status == "passed") != self.passed:
            msg = f"Check {self.name!r}: status {status!r} contradicts passed={self.passed}."
            raise ValueError(msg)
        object.__setattr__(self, "status", status)

    @property
    def decided(self) -> bool:
        """Whether the check decided (passed or failed)."""
        return self.status not in UNDECIDED

    def to_frame(self) -> pd.DataFrame:
        """One row: name, measured, expected, tolerance, passed, note, kind.

        Returns:
            A one-row :class:`pandas.DataFrame` of :meth:`to_dict`.
        """
        return pd.DataFrame([self.to_dict()])


@dataclass(frozen=True, kw_only=True)
class Verdict(Record):
    """The list of checks of a run, and what they say together (:attr:`outcome`).

    It agrees when at least one evidence check passed and no deciding check failed:
    identities and self-checks alone never make a verdict agree, and checks that did not
    decide (not covered, too few draws, vacuous, an erratum not reproduced) never count
    towards agreement. The verdict is frozen (its list of checks grows only through
    :meth:`add` and its siblings).

    Attributes:
        checks: the :class:`Check` entries, in the order they were added.
    """

    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, measured, expected, tolerance: float | None, passed: bool,
            note: str = "", *, kind: str, status: str | None = None) -> Check:
        """Append a check of the given ``kind`` and return it (``status``: see :class:`Check`).

        Args:
            name: what is checked.
            measured: the measured value (stored as plain JSON data).
            expected: what the theory says (stored as plain JSON data).
            tolerance: the tolerance or threshold that decided, or None if exact.
            passed: whether the measurement agrees with the theory.
            note: an optional explanation.
            kind: ``"evidence"``, ``"consistency"``, ``"erratum"`` or ``"hypothesis"``.
            status: an undecided status (with ``passed=False``), or None for passed/failed.

        Returns:
            The new :class:`Check`.
        """
        check = Check(name=name, measured=to_jsonable(measured), expected=to_jsonable(expected),
                      tolerance=tolerance, passed=bool(passed), note=note, kind=kind, status=status)
        self.checks.append(check)
        return check

    def hypothesis(self, name: str, measured, expected, held: bool, note: str = "") -> Check:
        """Record a hypothesis of the theorem checked on the generated instances.

        Args:
            name: the hypothesis, e.g. ``"rank X = n (T2 hypothesis)"``.
            measured: what was measured, e.g. ``"3 of 4 instances"``.
            expected: what the hypothesis requires.
            held: whether at least one instance satisfies it (the judge leaves the others
                out of the evidence checks); ``False`` records it as ``not covered``.
            note: which instances were left out and why.

        Returns:
            The check (kind ``hypothesis``); it never makes the verdict disagree.
        """
        return self.add(name, measured, expected, None, held, note, kind="hypothesis",
                        status=None if held else "not covered")

    def not_covered(self, name: str, expected, note: str, *, kind: str = "evidence") -> Check:
        """Record a check the run cannot decide because no instance meets the hypotheses.

        Args:
            name: what would be checked.
            expected: what the theory says.
            note: why no instance is covered.
            kind: the kind of the undecided check (evidence by default).

        Returns:
            The check, measured ``"no covered instance"``, status ``not covered``.
        """
        return self.add(name, "no covered instance", expected, None, False, note, kind=kind,
                        status="not covered")

    def of_kind(self, kind: str) -> list[Check]:
        """The checks of one kind, in order.

        Args:
            kind: ``"evidence"``, ``"consistency"``, ``"erratum"`` or ``"hypothesis"``.

        Returns:
            The matching :class:`Check` entries.
        """
        return [c for c in self.checks if c.kind == kind]

    @property
    def outcome(self) -> str:
        """What the checks say together: one of :data:`OUTCOMES`."""
        judged = [c for c in self.checks if c.kind != "hypothesis"]
        if any(c.status == "failed" for c in judged):
            return "disagrees"
        evidence = self.of_kind("evidence")
        if any(c.status == "passed" for c in evidence):
            return "agrees"
        if not evidence:
            return "no evidence"
        if all(c.status == "not covered" for c in evidence):
            return "not covered"
        return "inconclusive"

    @property
    def passed(self) -> bool:
        """Whether the verdict agrees."""
        return self.outcome == "agrees"

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Per kind: how many checks there are, how many passed, and how many did not decide."""
        return {k: {"total": len(self.of_kind(k)), "passed": sum(c.passed for c in self.of_kind(k)),
                    "undecided": sum(not c.decided for c in self.of_kind(k))}
                for k in KINDS}

    @property
    def summary(self) -> str:
        c = self.counts
        parts = [f"{c['evidence']['passed']}/{c['evidence']['total']} evidence"]
        parts += [f"{c[k]['passed']}/{c[k]['total']} {k}" for k in ("consistency", "erratum")
                  if c[k]["total"]]
        text = f"{self.outcome} ({', '.join(parts)} checks passed"
        undecided = sum(v["undecided"] for k, v in c.items() if k != "hypothesis")
        if undecided:
            text += f"; {undecided} undecided"
        if c["hypothesis"]["undecided"]:
            text += f"; {c['hypothesis']['undecided']} hypotheses not met"
        return text + ")"

    def _extra(self) -> dict[str, Any]:
        return {"passed": self.passed, "outcome": self.outcome, "summary": self.summary,
                "counts": self.counts}

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, kind, status, measured, expected, tolerance, passed, note.

        Returns:
            A :class:`pandas.DataFrame` with those eight columns (empty when there are no checks).
        """
        columns = ["name", "kind", "status", "measured", "expected", "tolerance", "passed", "note"]
        return pd.DataFrame([{k: c.to_dict()[k] for k in columns} for c in self.checks],
                            columns=columns)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        """Rebuild a verdict from its :meth:`to_dict` (a stored ``verdict.json``).

        Args:
            data: a dict with a ``checks`` list of check dicts (older runs without ``status``
                get it derived from ``passed``).

        Returns:
            The :class:`Verdict`.
        """
        return cls(checks=[Check(**c) for c in data.get("checks", [])])  # older runs: status derived


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
        """The tidy result table.

        Returns:
            :attr:`table` itself (not a copy).
        """
        return self.table


def task_outcome(result: Result) -> dict[str, Any]:
    """What a sweep task returns: the table, verdict and metadata of ``result`` as plain
    data (its figures are closed: a worker keeps only data).

    Args:
        result: the task's :class:`Result`.

    Returns:
        A dict with ``table`` (the DataFrame), ``verdict`` (its dict) and ``metadata``
        (JSON-able).
    """
    from .figures import close_figures

    close_figures(result.figures)
    return {"table": result.to_frame(), "verdict": result.verdict.to_dict(),
            "metadata": to_jsonable(result.metadata)}

