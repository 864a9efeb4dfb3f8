"""What the run store runs: anything with a name, its parameters class and ``run()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from .params import Params
from .result import Result, Verdict


@runtime_checkable
class Runnable(Protocol):
    """The protocol of a runnable job: the run store needs nothing more.

    Attributes:
        name: the job's name (names the run).
        source: the document the job comes from (shown on the report page).
        claim: what it checks (shown on the report page).
        params: its :class:`Params` subclass.
    """

    name: str
    source: str
    claim: str
    params: type[Params]

    def run(self, params: Params | None = None) -> Result:
        """Run the job.

        Args:
            params: its parameters; None runs the defaults of its :class:`Params` class.

        Returns:
            The run's :class:`Result`.
        """
        ...


@dataclass(frozen=True)
class Measurement:
    """What an experiment's *measure* step produced, before any judgement.

    Args:
        table: tidy DataFrame, one row per measurement: all the judge may read besides
            ``summary`` and the parameters.
        summary: JSON-able scalars (sizes, thresholds actually used, fitted values); they
            become the run's metadata and the judge may read them.
        surfaces: named :class:`~valleys.surface.Surface` s to store with the run.
        extras: objects only the *draw* step uses (an example path, a landscape); never
            stored and never read by the judge.
    """

    table: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    surfaces: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def with_table(self, table: pd.DataFrame) -> Measurement:
        """The same measurement with another table (a doctored one, in the judges' tests).

        Args:
            table: the replacement table.

        Returns:
            A new :class:`Measurement` with ``table`` and copies of the summary, surfaces and
            extras dicts.
        """
        return Measurement(table, dict(self.summary), dict(self.surfaces), dict(self.extras))


Measure = Callable[[Params], Measurement]
Judge = Callable[[Measurement, Params], Verdict]
Draw = Callable[[Measurement, Params], dict[str, Any]]


@dataclass(frozen=True)
class Parts:
    """An experiment written as three functions: ``measure(params) -> Measurement``,
    ``judge(measurement, params) -> Verdict`` (reads only the table, the summary and the
    parameters, so a doctored table shows whether each check can fail) and
    ``draw(measurement, params) -> figures``.

    Calling it runs the three in order and returns a :class:`Result` whose metadata is the
    measurement's summary.

    Attributes:
        measure: the measuring step, ``params -> Measurement``.
        judge: the judging step, ``(measurement, params) -> Verdict``.
        draw: the drawing step, ``(measurement, params) -> {name: figure}``.
    """

    measure: Measure
    judge: Judge
    draw: Draw

    def __call__(self, params: Params) -> Result:
        measured = self.measure(params)
        verdict = self.judge(measured, params)
        figures = self.draw(measured, params)
        return Result(table=measured.table, verdict=verdict, figures=figures, metadata=measured.summary,
                      surfaces=measured.surfaces)


@dataclass(frozen=True)
class Experiment:
    """A function of its ``Params`` returning a ``Result``, with a name, source and claim.

    ``func`` is a :class:`Parts` for experiments written as measure / judge / draw
    (:attr:`parts` then gives the three steps, e.g. to feed the judge a doctored table).

    Attributes:
        name: the registered name (``<document>-<experiment>``), naming its runs.
        source: the source document it tests (shown on the report page).
        claim: ``"ID/ID: one line"``: the claim IDs it tests and what it checks.
        params: its :class:`Params` subclass.
        func: the experiment: a :class:`Parts`, or one function of the params returning a
            :class:`Result`.
    """

    name: str
    source: str
    claim: str
    params: type[Params]
    func: Callable[[Params], Result]

    @property
    def module(self) -> str:
        """The module that defines the experiment (its measure step, or its one function)."""
        return (self.parts.measure if self.parts is not None else self.func).__module__

    @property
    def parts(self) -> Parts | None:
        """The measure / judge / draw steps, or None for an experiment written as one function."""
        return self.func if isinstance(self.func, Parts) else None

    def run(self, params: Params | None = None) -> Result:
        """Run the experiment.

        Args:
            params: its parameters; None runs the full preset (the ``params`` class's defaults).

        Returns:
            The :class:`Result`: table, verdict, figures, metadata and surfaces.
        """
        return self.func(params if params is not None else self.params())
