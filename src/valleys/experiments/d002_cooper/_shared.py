"""Document 002 (Cooper, "The critical locus of overparameterized neural networks").

What the locus and fibre experiments share: ``cooper-dimensions``, ``cooper-eigencounts``,
``cooper-fibre``, ``cooper-global-manifold``, ``cooper-star-core``, ``cooper-wide-flat`` (one
module each in this package).

Loss: L(p) = sum_i ||f_p(x_i) - y_i||^2 (``loss="mse", reduction="sum"``).
"""

from __future__ import annotations

import torch

from ..._validation import check_generator
from ...core import Landscape
from ...errors import InvalidParameterError
from ...nets import mlp

SOURCE = "002 Cooper, 'The critical locus of overparameterized neural networks'"


# ------------------------------------------------------------------------- helpers
def _parse(spec: str, fields: str, sep: str = ":") -> tuple[int, ...]:
    """Parse ``"2:1:3:4:5"`` into ints (one per letter of ``fields``)."""
    parts = spec.split(sep)
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != len(fields) or min(values, default=0) < 1:
        msg = (f"A shape must be {len(fields)} positive ints '{sep.join(fields)}'. Got {spec!r}.")
        raise InvalidParameterError(msg)
    return values


def _parse_widths(spec: str) -> tuple[int, ...]:
    """Parse ``"3/5/4/1"`` into widths (at least three)."""
    try:
        values = tuple(int(p) for p in spec.split("/"))
    except ValueError:
        values = ()
    if len(values) < 3 or min(values, default=0) < 1:
        msg = f"Widths must be at least three positive ints 'a/m1/.../b'. Got {spec!r}."
        raise InvalidParameterError(msg)
    return values


def _data(a: int, b: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = check_generator(seed)
    X = torch.randn(n, a, generator=gen, dtype=torch.float64)
    return X, torch.randn(n, b, generator=gen, dtype=torch.float64)


def _landscape(widths, activation: str, X, Y, seed: int = 0) -> Landscape:
    return Landscape(mlp(widths, activation, seed=seed), (X, Y), loss="mse", reduction="sum")


def _prop61_dim_m(a: int, b: int, m: int, depth: int, n: int) -> int:
    """Prop 6.1's dim M = (l-2)m^2 + (a+b+l-1)m + b(1-n), typed from the paper."""
    return (depth - 2) * m ** 2 + (a + b + depth - 1) * m + b * (1 - n)
