"""Checks shared by every registered experiment (cf. scikit-learn's estimator checks).

Each experiment's quick preset must agree with its claim, store only plain data, be
reproducible from its seed and keep its parameters round-trippable through ``--set``.
"""

import json
import re

import pandas as pd
import pytest

from valleys.experiments import all_experiments, get_experiment

NAMES = [e.name for e in all_experiments()]
_RESULTS = {}


def quick_result(name):
    """The quick-preset result of ``name``, computed once per test session."""
    if name not in _RESULTS:
        exp = get_experiment(name)
        _RESULTS[name] = exp.run(exp.params.preset(quick=True))
    return _RESULTS[name]


def test_every_document_has_experiments():
    assert len(NAMES) >= 11
    assert {"sun-toy-uv", "sun-toy-relu", "sun-single-point", "cooper-star-core"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_registration_names_source_and_claim_ids(name):
    exp = get_experiment(name)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert re.match(r"00[0-4] ", exp.source), "source starts with the seed document number"
    assert re.search(r"\b(SUN|COO|VBB|SS|NG)-", exp.claim), "claim cites a CLAIMS.md ID"


@pytest.mark.parametrize("name", NAMES)
def test_quick_preset_agrees_with_table_figures_and_plain_checks(name):
    result = quick_result(name)
    assert result.verdict.passed, json.dumps(result.verdict.to_dict(), indent=1)
    assert isinstance(result.table, pd.DataFrame) and len(result.table) > 0
    assert result.figures, "every experiment draws at least one figure"
    json.dumps(result.verdict.to_dict())  # plain JSON
    for check in result.verdict.checks:
        assert check.tolerance is None or check.tolerance >= 0


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip_through_set_strings(name):
    exp = get_experiment(name)
    params = exp.params.preset(quick=True)
    assignments = []
    for key, value in params.to_dict().items():
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        assignments.append(f"{key}={text}")
    assert exp.params().with_overrides(assignments) == params
    json.loads(params.to_json())


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_table_and_verdict(name):
    exp = get_experiment(name)
    first = quick_result(name)
    again = exp.run(exp.params.preset(quick=True))
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.verdict.to_dict() == again.verdict.to_dict()
