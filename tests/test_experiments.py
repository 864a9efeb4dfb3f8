"""Checks shared by every registered experiment (cf. scikit-learn's estimator checks).

Each experiment's quick preset must agree with its claim on at least one evidence check,
store only plain data, be reproducible from its seed and keep its parameters
round-trippable through ``--set``. One test per experiment runs the preset twice, so
that ``pytest -n`` spreads experiments over the cores.
"""

import dataclasses
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

import valleys.experiments
from valleys.experiments import all_experiments, get_experiment
from valleys.experiments.result import KINDS

NAMES = [e.name for e in all_experiments()]


def test_every_document_has_experiments():
    assert len(NAMES) >= 11
    assert {"sun-toy-uv", "sun-toy-relu", "sun-single-point", "cooper-star-core"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_registration_names_source_and_claim_ids(name):
    exp = get_experiment(name)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert re.match(r"00[0-4] ", exp.source), "source starts with the seed document number"
    assert re.search(r"\b(SUN|COO|VBB|SS|NG)-", exp.claim), "claim cites a CLAIMS.md ID"


def expected_module(name: str, source: str) -> str:
    """``valleys.experiments.<document>.<module>`` of the experiment ``name`` whose ``source``
    starts with the document number: the document's package is the one named ``d<number>_*``,
    and the module is the name without the package's prefix (``safran-shamir-``), dashes as
    underscores (``safran-shamir-low-rank`` -> ``d003_safran_shamir.low_rank``)."""
    root = Path(valleys.experiments.__file__).parent
    (package,) = [p.name for p in root.glob(f"d{source[:3]}_*") if (p / "__init__.py").is_file()]
    prefix = package.split("_", 1)[1].replace("_", "-") + "-"
    return f"valleys.experiments.{package}.{name.removeprefix(prefix).replace('-', '_')}"


def test_expected_module_follows_the_name():
    assert (expected_module("safran-shamir-low-rank", "003 Safran & Shamir")
            == "valleys.experiments.d003_safran_shamir.low_rank")
    assert expected_module("mode-connectivity", "004 Nguyen") == "valleys.experiments.d004_nguyen.mode_connectivity"


@pytest.mark.parametrize("name", NAMES)
def test_experiment_module_is_its_document_and_name(name):
    """One hop from a name to its code: the experiment is defined in
    ``experiments/<document>/<name>.py``, and that module defines no other experiment."""
    exp = get_experiment(name)
    module = expected_module(name, exp.source)
    assert exp.module == module
    package, stem = module.split(".")[-2:]
    assert Path(sys.modules[module].__file__) == Path(valleys.experiments.__file__).parent / package / f"{stem}.py"
    assert [e.name for e in all_experiments() if e.module == module] == [name]


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


def assert_count_has_a_margin(check) -> None:
    """A minimum count ("k runs / minima / points >= n") in a quick preset is met with a
    margin: measured > n, so another CPU's kernels (another optimiser trajectory) losing one
    run cannot flip the verdict. Checks that every item holds ("20/20", "= n") are exact,
    not counts against a threshold."""
    match = re.fullmatch(r">=\s*(\d+)", str(check.expected))
    if match and isinstance(check.measured, int) and not isinstance(check.measured, bool):
        assert check.measured > int(match.group(1)), (
            f"{check.name}: measured {check.measured} sits at its threshold {check.expected} (no margin)")


@pytest.mark.parametrize("name", NAMES)
def test_quick_preset_agrees_and_is_reproducible(name):
    exp = get_experiment(name)
    result = exp.run(exp.params.preset(quick=True))
    verdict = result.verdict.to_dict()
    assert result.verdict.passed, json.dumps(verdict, indent=1)
    assert result.verdict.of_kind("evidence"), "every experiment has at least one evidence check"
    assert isinstance(result.table, pd.DataFrame) and len(result.table) > 0
    assert result.figures, "every experiment draws at least one figure"
    json.dumps(verdict)  # plain JSON
    for check in result.verdict.checks:
        assert check.kind in KINDS
        assert check.tolerance is None or check.tolerance >= 0
        assert_count_has_a_margin(check)

    again = exp.run(exp.params.preset(quick=True))
    pd.testing.assert_frame_equal(result.table, again.table)
    assert verdict == again.verdict.to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_declares_its_limits(name):
    """Every Params field except seed has a LIMITS entry (and every entry names a field);
    both presets satisfy them."""
    params = get_experiment(name).params
    fields = {f.name for f in dataclasses.fields(params)} - {"seed"}
    assert not fields - set(params.LIMITS), f"fields without LIMITS: {sorted(fields - set(params.LIMITS))}"
    assert not set(params.LIMITS) - fields, f"LIMITS of no field: {sorted(set(params.LIMITS) - fields)}"
    params.preset(quick=True)
    params.preset(quick=False)
