"""Issue 22: every ID of the project's claims catalogue is placed — cited by a registered
experiment, tested by a named check of one, or given a one-sentence reason with the
experiment, test or library name that exercises it. No ID is unmapped."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from valleys import claims
from valleys.experiments.registry import all_experiments

ROOT = Path(__file__).resolve().parents[1]
#: the stored quick-preset verdicts (``make docs-verdicts``): where a named check must exist
VERDICTS = ROOT / "docs" / "verdicts" / "quick"


def cited_by(experiments) -> dict[str, list[str]]:
    """Claim ID -> the experiments whose ``claim=`` text cites it."""
    cited: dict[str, list[str]] = {}
    for exp in experiments:
        for cid in claims.cited_ids(exp.claim):
            cited.setdefault(cid, []).append(exp.name)
    return cited


def unplaced(catalogue: dict[str, claims.Claim], experiments) -> list[str]:
    """The IDs that no experiment cites and that have neither a named check nor a reason."""
    cited = cited_by(experiments)
    return [cid for cid, claim in catalogue.items() if cid not in cited and not claim.checks and not claim.reason]


def stored_check_names(experiment: str) -> list[str]:
    path = VERDICTS / experiment / "verdict.json"
    if not path.is_file():
        return []
    return [check["name"] for check in json.loads(path.read_text(encoding="utf-8"))["checks"]]


def resolves(target: str, names: set[str]) -> bool:
    """An experiment name, ``tests/<file>.py::<test>`` or an importable dotted name."""
    if target in names:
        return True
    if "::" in target:
        file, test = target.split("::", 1)
        path = ROOT / file
        return path.is_file() and re.search(rf"^\s*def {re.escape(test)}\b", path.read_text(encoding="utf-8"),
                                            re.MULTILINE) is not None
    module, _, attr = target.rpartition(".")
    while module:
        try:
            obj = importlib.import_module(module)
        except ImportError:
            module, _, head = module.rpartition(".")
            attr = f"{head}.{attr}"
            continue
        for part in attr.split("."):
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def test_no_claim_is_unmapped():
    assert unplaced(claims.load(), all_experiments()) == []


def test_the_coverage_judge_can_fail():
    # a catalogue entry no experiment cites, without check or reason, is reported
    orphan = claims.Claim("VBB-X9.9", "000", "theorem", "t", "s", ())
    assert unplaced({"VBB-X9.9": orphan}, all_experiments()) == ["VBB-X9.9"]
    assert unplaced({"VBB-X9.9": claims.Claim("VBB-X9.9", "000", "theorem", "t", "s", (), reason="r.")},
                    all_experiments()) == []
    assert not resolves("tests/test_claims_coverage.py::test_that_does_not_exist", set())
    assert not resolves("valleys.basins.no_such_function", set())
    assert resolves("valleys.claims.get", set())


@pytest.mark.parametrize("claim", [c for c in claims.load().values() if c.checks], ids=lambda c: c.id)
def test_named_checks_exist_in_the_stored_verdicts(claim):
    names = {e.name for e in all_experiments()}
    for entry in claim.checks:
        experiment, _, check = entry.partition(": ")
        assert experiment in names, f"{claim.id}: no experiment {experiment!r}"
        assert check, f"{claim.id}: {entry!r} names no check ('experiment: check name')"
        stored = stored_check_names(experiment)
        assert any(name.startswith(check) for name in stored), (
            f"{claim.id}: {experiment} has no stored check starting {check!r}; refresh docs/verdicts/quick")


@pytest.mark.parametrize("claim", [c for c in claims.load().values() if c.reason], ids=lambda c: c.id)
def test_reasons_are_one_sentence_and_name_what_exercises_them(claim):
    assert len(re.findall(r"[.!?](?:\s|$)", claim.reason)) == 1 and claim.reason.endswith("."), (
        f"{claim.id}: the reason must be one sentence ending with a full stop")
    names = {e.name for e in all_experiments()}
    assert claim.exercised_by, f"{claim.id}: name the experiment, test or library function that exercises it"
    for target in claim.exercised_by:
        assert resolves(target, names), f"{claim.id}: {target!r} is no experiment, test or importable name"
