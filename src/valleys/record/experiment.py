"""What the run store runs: anything with a name, its parameters class and ``run()``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .params import Params
from .result import Result


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

    def run(self, params: Params | None = None) -> Result: ...


@dataclass(frozen=True)
class Experiment:
    """A function of its ``Params`` returning a ``Result``, with a name, source and claim."""

    name: str
    source: str
    claim: str
    params: type[Params]
    func: Callable[[Params], Result]

    def run(self, params: Params | None = None) -> Result:
        return self.func(params if params is not None else self.params())
