"""The experiment registry: ``@experiment(name, source=..., claim=..., params=...)``."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from ..errors import UnknownExperimentError
from ..record import Experiment, Params, Result
from ..record.experiment import Draw, Judge, Measure, Parts

REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, *, source: str, claim: str, params: type[Params],
               judge: Judge | None = None, draw: Draw | None = None):
    """Register an experiment under ``name``.

    Written as three steps (the house style): decorate ``measure(params) -> Measurement``
    and pass ``judge(measurement, params) -> Verdict`` and ``draw(measurement, params) ->
    figures``; the registry composes them (:class:`~valleys.record.experiment.Parts`).
    Written as one function: decorate ``func(params) -> Result`` without ``judge``/``draw``.

    Args:
        name: the command-line name (``valleys run NAME``).
        source: the seed document and statement, e.g. ``"001 Sun et al., Example (uv-1)^2"``.
        claim: the claim ID(s) of CLAIMS.md and a one-line statement.
        params: the experiment's :class:`Params` subclass.
        judge: the verdict from the measurement (with ``draw``).
        draw: the figures from the measurement (with ``judge``).

    Returns:
        The decorator: it registers the decorated function (composed with ``judge`` and
        ``draw`` when given) and returns that function unchanged.

    Raises:
        ValueError: only one of ``judge`` / ``draw`` is given (at once), or the name is
            already registered (when the decorator is applied).
    """
    if (judge is None) != (draw is None):
        msg = f"Experiment {name!r}: pass both judge= and draw= (or neither)."
        raise ValueError(msg)

    def register(func: Callable[[Params], Result] | Measure) -> Callable:
        if name in REGISTRY:
            msg = f"An experiment named {name!r} is already registered."
            raise ValueError(msg)
        run = func if judge is None else Parts(func, judge, draw)
        REGISTRY[name] = Experiment(name, source, claim, params, run)
        if not params.EXPERIMENT:
            params.EXPERIMENT = name  # error messages name the experiment
        return func

    return register


def get_experiment(name: str) -> Experiment:
    """The registered experiment ``name`` (suggesting close names when unknown).

    Args:
        name: the experiment's command-line name, e.g. ``"sun-toy-uv"``.

    Returns:
        Its :class:`Experiment` record (every experiment module is imported first).

    Raises:
        UnknownExperimentError: no experiment has that name; the message lists up to three
            close names, or says to run ``valleys list``.
    """
    load_all()
    if name in REGISTRY:
        return REGISTRY[name]
    close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.4)
    hint = f" Did you mean: {', '.join(close)}?" if close else " Run 'valleys list' to see them."
    msg = f"No experiment named {name!r}.{hint}"
    raise UnknownExperimentError(msg)


def all_experiments() -> list[Experiment]:
    """Every registered experiment, sorted by name.

    Returns:
        The :class:`Experiment` records of all experiment modules (imported first), sorted by
        name.
    """
    load_all()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def load_all() -> None:
    """Import every experiment module so that they register themselves."""
    from . import catalog  # noqa: F401
