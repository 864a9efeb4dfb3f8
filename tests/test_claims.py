"""The claims catalogue shipped in ``valleys.claims``: complete for the experiments, unique IDs,
well-formed entries, and the citation parser the catalogue pages rely on."""

from __future__ import annotations

import tomllib
from collections import Counter
from importlib import resources

import pytest

from valleys import claims
from valleys.errors import InvalidParameterError
from valleys.experiments.registry import all_experiments


def _raw_ids() -> list[str]:
    """Every ``id =`` of every catalogue file, read independently of the loader."""
    ids = []
    for path in resources.files("valleys.claims").iterdir():
        if path.name.endswith(".toml"):
            ids.extend(entry["id"] for entry in tomllib.loads(path.read_text(encoding="utf-8"))["claim"])
    return ids


def test_ids_are_unique_and_all_loaded():
    ids = _raw_ids()
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert sorted(claims.load()) == sorted(ids)


def test_every_id_an_experiment_cites_is_in_the_catalogue():
    catalogue = claims.load()
    missing = [(e.name, cid) for e in all_experiments() for cid in claims.cited_ids(e.claim) if cid not in catalogue]
    assert missing == []


def test_every_document_has_its_claims_with_statements():
    docs = claims.documents()
    assert [d.number for d in docs] == ["000", "001", "002", "003", "004"]
    assert [d.family for d in docs] == list(claims.FAMILIES)
    for doc in docs:
        assert doc.claims and doc.title and doc.setting
        for claim in doc.claims:
            assert claim.id.startswith(doc.family + "-") and claim.document == doc.number
            assert claim.kind in claims.KINDS
            assert claim.statement and claim.title
            assert isinstance(claim.hypotheses, tuple)


def test_errata_the_experiments_measure_are_recorded():
    # the README's errata list: VBB-P2.1's constant term, NG-5.3.1's union, COO's mean bias
    for cid in ("VBB-P2.1", "NG-5.3.1", "COO-Def", "COO-C5.16"):
        assert claims.get(cid).erratum


def test_claims_are_frozen():
    claim = claims.get("SS-T4")
    with pytest.raises(AttributeError):
        claim.statement = "x"  # type: ignore[misc]


@pytest.mark.parametrize(("text", "ids"), [
    ("SS-T2 / SS-AppC: one ReLU neuron", ("SS-T2", "SS-AppC")),
    ("COO-T3.1/T3.2/L3.3: star points", ("COO-T3.1", "COO-T3.2", "COO-L3.3")),
    ("NG-L4.3.2 / NG Fig 4.4: with N skip neurons", ("NG-L4.3.2", "NG-Fig4.4")),
    ("NG-T4.3.4 (Fig. 4.3): a 150 x 10 net", ("NG-T4.3.4",)),
    ("NG-5.3.1/5.3.2/5.3.3: examples", ("NG-5.3.1", "NG-5.3.2", "NG-5.3.3")),
    ("SUN-T2.1/T2.2, VBB-P3.1: deep linear", ("SUN-T2.1", "SUN-T2.2", "VBB-P3.1")),
    ("COO-Examples §5.3: x^4", ("COO-Examples§5.3",)),
])
def test_cited_ids(text, ids):
    assert claims.cited_ids(text) == ids


@pytest.mark.parametrize("text", ["every local minimum is global", ": nothing", "T3.2: no prefix"])
def test_cited_ids_refuses_text_without_an_id(text):
    with pytest.raises(InvalidParameterError):
        claims.cited_ids(text)


def test_unknown_claim_is_refused_with_a_hint():
    with pytest.raises(InvalidParameterError, match="VBB-T3.2"):
        claims.get("VBB-T9.9")
