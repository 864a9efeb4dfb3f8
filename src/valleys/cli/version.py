"""``valleys version``: the version of valleys and its dependencies."""

from __future__ import annotations

import argparse

from .common import EXIT_OK

HELP = "print the version of valleys and its dependencies"


def add_command(add) -> None:
    """Register ``version`` through :func:`valleys.cli.build_parser`'s ``add``.

    Args:
        add: ``add(name, handler, help)``, which creates the subcommand's parser (with the
            common options) and returns it.
    """
    add("version", cmd_version, HELP)


def cmd_version(args: argparse.Namespace) -> int:
    """``valleys version`` (reads package metadata; imports neither torch nor pandas).

    Args:
        args: the parsed command line (unused).

    Returns:
        The exit status 0.
    """
    from .. import __version__
    from ..runs.provenance import package_versions

    versions = package_versions()
    deps = ", ".join(f"{k} {versions[k]}" for k in ("python", "torch", "numpy", "scipy"))
    print(f"valleys {__version__} ({deps})")
    return EXIT_OK
