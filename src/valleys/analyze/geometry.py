"""Surfaces and paths of an analysis, through :mod:`valleys.surface` and :mod:`valleys.paths`."""

from __future__ import annotations


def plane_around(land, theta, grid, *, seed: int = 0) -> dict:
    from ..surface import plane

    raise RuntimeError(plane)


def interpolate_models(land, theta, other, *, certify: bool = False) -> dict:
    from ..paths import evaluate

    raise RuntimeError(evaluate)


def connect_models(land, theta, other, *, seed: int = 0) -> dict:
    from ..paths import bezier

    raise RuntimeError(bezier)
