"""Small argument checks with one message template.

Messages follow "The 'k' parameter of eigs must be an int >= 1. Got 0 instead."
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np
import torch

from .errors import InvalidParameterError


def check_int(value, name: str, where: str, *, min_val: int | None = None,
              max_val: int | None = None) -> int:
    """Return ``value`` as an int after checking its type and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"The '{name}' parameter of {where} must be an int. Got {value!r} instead."
        raise InvalidParameterError(msg)
    _check_range(int(value), name, where, min_val, max_val, "an int")
    return int(value)


def check_float(value, name: str, where: str, *, min_val: float | None = None,
                max_val: float | None = None, open_min: bool = False) -> float:
    """Return ``value`` as a float after checking its type, finiteness and range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        msg = f"The '{name}' parameter of {where} must be a finite float. Got {value!r} instead."
        raise InvalidParameterError(msg)
    value = float(value)
    if open_min and min_val is not None and value <= min_val:
        msg = f"The '{name}' parameter of {where} must be > {min_val}. Got {value!r} instead."
        raise InvalidParameterError(msg)
    _check_range(value, name, where, min_val, max_val, "a float")
    return value


def check_choice(value, name: str, where: str, choices: Iterable[str]) -> str:
    """Return ``value`` after checking that it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        msg = f"The '{name}' parameter of {where} must be one of {opts}. Got {value!r} instead."
        raise InvalidParameterError(msg)
    return value


def check_bool(value, name: str, where: str) -> bool:
    """Return ``value`` after checking that it is a bool."""
    if not isinstance(value, bool):
        msg = f"The '{name}' parameter of {where} must be a bool. Got {value!r} instead."
        raise InvalidParameterError(msg)
    return value


def check_seed(seed, where: str = "this function") -> int | None:
    """Return ``seed`` after checking that it is None or an int >= 0."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        msg = (f"The 'seed' parameter of {where} must be an int >= 0, a generator or None. "
               f"Got {seed!r} instead.")
        raise InvalidParameterError(msg)
    return int(seed)


def check_generator(seed: int | torch.Generator | None, where: str = "this function") -> torch.Generator:
    """Normalise ``seed`` (int >= 0, Generator or None = 0) to a CPU ``torch.Generator``."""
    if isinstance(seed, torch.Generator):
        return seed
    seed = check_seed(seed, where)
    gen = torch.Generator()
    gen.manual_seed(0 if seed is None else seed)
    return gen


def check_rng(seed: int | np.random.Generator | None, where: str = "this function") -> np.random.Generator:
    """Normalise ``seed`` (int >= 0, Generator or None = 0) to a ``numpy.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    seed = check_seed(seed, where)
    return np.random.default_rng(0 if seed is None else seed)


def _check_range(value, name, where, min_val, max_val, kind):
    if min_val is not None and value < min_val:
        msg = f"The '{name}' parameter of {where} must be {kind} >= {min_val}. Got {value!r} instead."
        raise InvalidParameterError(msg)
    if max_val is not None and value > max_val:
        msg = f"The '{name}' parameter of {where} must be {kind} <= {max_val}. Got {value!r} instead."
        raise InvalidParameterError(msg)
