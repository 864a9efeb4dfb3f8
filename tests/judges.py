"""Harness for the judges' tests: can each experiment's verdict fail?

An experiment written as measure / judge / draw (:class:`valleys.record.Parts`) is measured
once at its quick preset; its judge then sees the honest table and a *doctored* one, in
which the theorem's conclusion is broken in the data. The judge must agree with the first
and disagree with the second through an evidence check: the direct proof that the
evidence could have failed.

Each ``tests/test_judges_<document>.py`` lists its doctors in ``DOCTORS``: experiment
name -> list of ``(what the doctor breaks, doctor(table, params) -> table)``, and in
``OUTSIDE`` the tables whose every instance lies outside the theorem's hypotheses: experiment
name -> list of ``(which hypothesis fails, doctor)``; the judge must then say "not covered"
(an instance outside the hypotheses never counts towards "agrees").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pandas as pd

from valleys.experiments import get_experiment
from valleys.record import Measurement, Params, Verdict

Doctor = Callable[[pd.DataFrame, Params], pd.DataFrame]


@cache
def quick_measurement(name: str) -> tuple[Params, Measurement]:
    """The quick preset's parameters and measurement of experiment ``name`` (once per process)."""
    experiment = get_experiment(name)
    assert experiment.parts is not None, f"{name} is not written as measure / judge / draw"
    params = experiment.params.preset(quick=True)
    return params, experiment.parts.measure(params)


def judge(name: str, doctor: Doctor | None = None) -> Verdict:
    """The verdict of ``name``'s judge on its quick measurement, doctored by ``doctor``."""
    params, measured = quick_measurement(name)
    if doctor is not None:
        measured = measured.with_table(doctor(measured.table.copy(), params))
    return get_experiment(name).parts.judge(measured, params)


def failed_evidence(verdict: Verdict) -> list[str]:
    """Names of the evidence checks that decided and failed."""
    return [c.name for c in verdict.of_kind("evidence") if c.status == "failed"]


def assert_doctor_breaks_the_verdict(name: str, what: str, doctor: Doctor) -> None:
    """The honest table agrees; the doctored one disagrees through an evidence check."""
    honest = judge(name)
    assert honest.passed, f"{name}: the quick preset's own table does not agree: {failed_evidence(honest)}"
    doctored = judge(name, doctor)
    newly = set(failed_evidence(doctored)) - set(failed_evidence(honest))
    assert not doctored.passed and newly, f"{name}: the judge still agrees when {what}"


def assert_outside_hypotheses_is_not_covered(name: str, what: str, doctor: Doctor) -> None:
    """A table whose every instance breaks a hypothesis gets the verdict "not covered"."""
    verdict = judge(name, doctor)
    assert verdict.outcome == "not covered", (
        f"{name}: with {what} the judge says {verdict.outcome!r}, not 'not covered': {verdict.summary}")


def cases(table: dict[str, list[tuple[str, Doctor]]]) -> list[tuple[str, str, Doctor]]:
    """``(experiment, what, doctor)`` for every entry of a ``DOCTORS`` or ``OUTSIDE`` table."""
    return [(name, what, doctor) for name, doctors in table.items() for what, doctor in doctors]


def case_id(value) -> str:
    """Test id of a case: the experiment and what is broken (the doctor itself has none)."""
    return value if isinstance(value, str) else ""
