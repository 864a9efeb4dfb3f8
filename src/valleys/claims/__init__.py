"""The project's catalogue of the claims of its source documents, shipped with the code.

Each claim an experiment checks has an ID (``VBB-T3.2``, ``COO-C5.18``, ``NG-5.3.4``, ...);
the catalogue gives, per ID, its source document, its kind (theorem, lemma, example,
algorithm, ...), a short statement and its hypotheses in the project's own words (math in
LaTeX), and, where the source text is wrong, the erratum. It is one TOML file per source
document beside this module, read with the standard library.

Example:
    >>> from valleys import claims
    >>> claim = claims.get("COO-T3.1")
    >>> claim.document, claim.kind
    ('002', 'theorem')
    >>> claims.cited_ids("SUN-T2.1/T2.2, VBB-P3.1: every GD run reaches the optimum")
    ('SUN-T2.1', 'SUN-T2.2', 'VBB-P3.1')
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import InvalidParameterError

__all__ = ["Claim", "Document", "KINDS", "load", "documents", "get", "cited_ids"]

#: The kinds of entry the catalogue holds.
KINDS = frozenset({"theorem", "lemma", "proposition", "corollary", "conjecture", "example", "definition",
                   "algorithm", "identity", "remark", "principle", "experiment"})
#: The ID prefix of each source document.
FAMILIES = ("VBB", "SUN", "COO", "SS", "NG")
_FAMILY = re.compile(r"^(VBB|SUN|COO|SS|NG)[-\s]+")


@dataclass(frozen=True)
class Claim:
    """One entry of the catalogue.

    Attributes:
        id: the claim's ID, e.g. ``"VBB-T3.2"``.
        document: the source document, ``"000"`` to ``"004"``.
        kind: one of :data:`KINDS`.
        title: a few words naming the claim.
        statement: what the source claims, in the project's words (LaTeX between ``\\(`` ``\\)``).
        hypotheses: the conditions under which it is claimed, one string each.
        erratum: what the source text gets wrong (empty when nothing).
        checks: named checks of experiments that test this claim although the experiment's
            ``claim=`` text does not cite it, each ``"experiment-name: check name"`` (the check
            name as stored in the verdict, or its beginning).
        reason: why no experiment checks the claim (a definition, an illustration without a
            specified function, a statement used only inside another proof, an algorithm the
            library implements), in one sentence; empty when an experiment or a check covers it.
        exercised_by: where a claim with a ``reason`` is exercised: experiment names,
            ``tests/<file>.py::<test>`` or dotted library names.
    """

    id: str
    document: str
    kind: str
    title: str
    statement: str
    hypotheses: tuple[str, ...]
    erratum: str = ""
    checks: tuple[str, ...] = ()
    reason: str = ""
    exercised_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """One source document: its number, ID prefix, title, setting and claims in source order.

    Attributes:
        number: the document's number as in the file name (``"000"`` .. ``"004"``).
        family: the ID prefix of its claims (the part of each claim ID before the first ``-``).
        title: the document's title.
        setting: one paragraph on the setting the document's claims live in.
        claims: its :class:`Claim` entries in the order of the source.
    """

    number: str
    family: str
    title: str
    setting: str
    claims: tuple[Claim, ...]


def _read(name: str) -> Document:
    raw = tomllib.loads(resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))
    claims = []
    for entry in raw["claim"]:
        claim = Claim(id=entry["id"], document=raw["document"], kind=entry["kind"], title=entry["title"],
                      statement=entry["statement"].strip(), hypotheses=tuple(entry.get("hypotheses", ())),
                      erratum=entry.get("erratum", "").strip(), checks=tuple(entry.get("checks", ())),
                      reason=entry.get("reason", "").strip(), exercised_by=tuple(entry.get("exercised_by", ())))
        if claim.kind not in KINDS or not claim.id.startswith(raw["family"] + "-"):
            raise ValueError(f"{name}: claim {claim.id!r} has kind {claim.kind!r} or a foreign prefix")
        claims.append(claim)
    return Document(raw["document"], raw["family"], raw["title"], raw["setting"].strip(), tuple(claims))


@cache
def documents() -> tuple[Document, ...]:
    """The five source documents with their claims, in document order.

    Returns:
        A tuple of :class:`Document`, one per ``d*.toml`` file of this package.

    Raises:
        ValueError: a catalogue file holds an unknown kind or a claim ID of another document.
    """
    names = sorted(p.name for p in resources.files(__name__).iterdir() if p.name.endswith(".toml"))
    return tuple(_read(name) for name in names)


@cache
def load() -> dict[str, Claim]:
    """Every claim of the catalogue, by ID, in document order.

    Returns:
        A mapping from ID to the frozen :class:`Claim`.

    Raises:
        ValueError: an ID occurs twice, or a file is malformed (see :func:`documents`).
    """
    catalogue: dict[str, Claim] = {}
    for document in documents():
        for claim in document.claims:
            if claim.id in catalogue:
                raise ValueError(f"claim ID {claim.id!r} occurs twice in the catalogue")
            catalogue[claim.id] = claim
    return catalogue


def get(claim_id: str) -> Claim:
    """The claim with ID ``claim_id``.

    Args:
        claim_id: an ID such as ``"SS-T2"``.

    Returns:
        The :class:`Claim`.

    Raises:
        InvalidParameterError: no claim has that ID.
    """
    catalogue = load()
    if claim_id not in catalogue:
        raise InvalidParameterError(f"No claim {claim_id!r} in the catalogue; IDs look like "
                                    f"'VBB-T3.2' (see valleys.claims.load()).")
    return catalogue[claim_id]


def cited_ids(claim_text: str) -> tuple[str, ...]:
    """The claim IDs an experiment's ``claim=`` text cites before its first colon.

    IDs are separated by ``/``, ``,`` or ``and``; an ID without a prefix takes the prefix of the
    one before it (``COO-T3.1/T3.2`` cites ``COO-T3.1`` and ``COO-T3.2``); parenthesised
    remarks are dropped and spaces inside an ID are removed (``NG Fig 4.4`` is ``NG-Fig4.4``).

    Args:
        claim_text: the text, e.g. ``"SS-T2 / SS-AppC: one ReLU neuron ..."``.

    Returns:
        The IDs in the order cited.

    Raises:
        InvalidParameterError: the text names no ID, or starts without a document prefix.
    """
    head = re.sub(r"\([^)]*\)", "", claim_text.split(":", 1)[0])
    ids: list[str] = []
    family = ""
    for token in re.split(r"\s*(?:/|,|\band\b)\s*", head):
        token = token.strip()
        if not token:
            continue
        match = _FAMILY.match(token)
        if match:
            family, token = match.group(1), token[match.end():]
        if not family:
            raise InvalidParameterError(f"Claim text {claim_text!r} does not start with a claim ID such as 'SS-T2'.")
        ids.append(family + "-" + re.sub(r"\s+", "", token))
    if not ids:
        raise InvalidParameterError(f"Claim text {claim_text!r} names no claim ID before its colon.")
    return tuple(ids)
