"""``valleys list``: the registered experiments, or those checking one claim (``list.py`` would
shadow the builtin ``list`` inside the package)."""

from __future__ import annotations

import argparse
import re

from .common import EXIT_OK, aligned

HELP = "list the registered experiments"


def add_command(add) -> None:
    """Register ``list`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    listing = add("list", cmd_list, HELP)
    listing.add_argument("--claim", metavar="ID",
                         help="only the experiments checking claim ID (e.g. SS-T3, or SS for a "
                              "document), with the module that defines each")


def cmd_list(args: argparse.Namespace) -> int:
    """``valleys list``: name, source and claim of every experiment; with ``--claim ID`` name,
    defining module and claim of the experiments whose claim IDs include ID.

    Args:
        args: the parsed command line (``claim``).

    Returns:
        The exit status 0.

    Raises:
        UnknownExperimentError: if no experiment checks the claim given by ``--claim``.
    """
    from ..experiments import all_experiments

    experiments = all_experiments()
    if not experiments:
        print("No experiments registered.")
        return EXIT_OK
    claim = getattr(args, "claim", None)
    if claim is None:
        rows = [(e.name, e.source, e.claim) for e in experiments]
        headers = ("NAME", "SOURCE", "CLAIM")
    else:
        rows = [(e.name, e.module, e.claim) for e in experiments if claims(e.claim, claim)]
        headers = ("NAME", "MODULE", "CLAIM")
        if not rows:
            from ..errors import UnknownExperimentError

            raise UnknownExperimentError(f"No experiment checks a claim {claim!r}. Run 'valleys list' "
                                         "to see the claim IDs (before each claim's colon).")
    for line in aligned(headers, rows):
        print(line)
    return EXIT_OK


def claims(claim: str, claim_id: str) -> bool:
    """Whether ``claim_id`` (case-insensitive) is one of the IDs before the claim's colon, or
    their leading part up to a dash. An ID without a dash takes the prefix of the ID before it:
    ``COO-T3.2``, ``COO`` match ``COO-T3.1/T3.2: ...``; ``COO-T3`` does not.

    Args:
        claim: an experiment's ``claim`` text.
        claim_id: the wanted ID or its leading part.

    Returns:
        True if the claim cites it.
    """
    ids, prefix = [], ""
    for token in re.split(r"[\s/,()]+", claim.split(":", 1)[0].upper()):
        if "-" in token:
            prefix = token.split("-", 1)[0]
        elif token:
            token = f"{prefix}-{token}"
        ids.append(token)
    wanted = claim_id.upper()
    return any(t == wanted or t.startswith(wanted + "-") for t in ids)
