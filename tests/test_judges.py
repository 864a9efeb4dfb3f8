"""Every experiment is written as measure / judge / draw and has doctored-table tests.

``NOT_YET_SPLIT`` lists the experiments still written as one function when this test was
written; the restructuring removes them one by one (the test fails on a listed experiment
that has been split, so the list can only shrink).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from valleys.experiments import all_experiments


def doctors() -> dict[str, list]:
    """Every ``DOCTORS`` of the ``tests/test_judges_<document>*.py`` modules."""
    found: dict[str, list] = {}
    for path in sorted(Path(__file__).parent.glob("test_judges_*.py")):
        found.update(importlib.import_module(path.stem).DOCTORS)
    return found


NOT_YET_SPLIT = frozenset()


def test_every_split_experiment_has_a_doctored_table_test():
    split = {e.name for e in all_experiments() if e.parts is not None}
    missing = sorted(split - set(doctors()))
    assert not missing, f"write doctors in tests/test_judges_<document>.py for: {missing}"
    assert all(doctors().values()), "every doctor list needs at least one doctor"


def test_not_yet_split_only_shrinks():
    unsplit = {e.name for e in all_experiments() if e.parts is None}
    new = sorted(unsplit - NOT_YET_SPLIT)
    assert not new, f"new experiments must be measure / judge / draw: {new}"
    assert NOT_YET_SPLIT <= unsplit, f"delete from NOT_YET_SPLIT: {sorted(NOT_YET_SPLIT - unsplit)}"


def test_parts_compose_into_the_result():
    from valleys.experiments import get_experiment

    experiment = get_experiment("cooper-straight-descent")
    params = experiment.params.preset(quick=True)
    result = experiment.run(params)
    measured = experiment.parts.measure(params)
    assert result.verdict.to_dict() == experiment.parts.judge(measured, params).to_dict()
    assert result.table.equals(measured.table) and set(result.figures) == {"line"}
    assert result.metadata == measured.summary


def test_registry_refuses_half_the_parts():
    from valleys.experiments import experiment
    from valleys.record import Params

    with pytest.raises(ValueError, match="both judge= and draw="):
        experiment("x-half", source="-", claim="-", params=Params, judge=lambda m, p: None)


def test_a_split_experiment_is_found_in_the_module_of_its_measure_step():
    from valleys.experiments import get_experiment

    experiment = get_experiment("cooper-straight-descent")
    assert experiment.module == "valleys.experiments.d002_cooper.straight_descent"
    assert experiment.module == experiment.parts.measure.__module__
