"""Look data sets up by name: ``get_dataset("teacher", n=100, d=5, width=3, seed=1)``."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable

from ..errors import InvalidParameterError
from .clustered import clustered
from .dataset import Dataset
from .files import READERS, load_file
from .gaussian import gaussian
from .rank import full_rank, low_rank
from .regions import two_class_regions
from .rotated import rotated_digits
from .shipped import digits, mnist1d
from .singleton import auer_singleton, singleton
from .teacher import teacher

DATASETS: dict[str, Callable[..., Dataset]] = {
    "gaussian": gaussian,
    "teacher": teacher,
    "low_rank": low_rank,
    "full_rank": full_rank,
    "clustered": clustered,
    "singleton": singleton,
    "auer_singleton": auer_singleton,
    "two_class_regions": two_class_regions,
    "rotated_digits": rotated_digits,
    "digits": digits,
    "mnist1d": mnist1d,
}


def list_datasets() -> list[str]:
    """Names :func:`get_dataset` knows, sorted.

    Returns:
        The dataset names, sorted.
    """
    return sorted(DATASETS)


def get_dataset(name: str, /, **kwargs) -> Dataset:
    """Build a data set by name, or load a user file when ``name`` ends in ``.npz``/``.csv``.

    Args:
        name: A name from :func:`list_datasets` (hyphens count as underscores), or the
            path of a data file (passed to :func:`load_file` with ``kwargs``).
        **kwargs: Arguments of the generator, e.g. ``n``, ``d`` and ``seed``.

    Returns:
        The :class:`Dataset`.

    Raises:
        InvalidParameterError: If the name is unknown (the message suggests close
            names) or ``kwargs`` do not fit the generator's signature.
        DataError: If a data file cannot be loaded.

    Example:
        >>> get_dataset("gaussian", n=4, d=2, seed=0).X.shape
        torch.Size([4, 2])
    """
    if not isinstance(name, str):
        msg = f"The 'name' parameter of get_dataset must be a str. Got {name!r} instead."
        raise InvalidParameterError(msg)
    if any(name.lower().endswith(ext) for ext in READERS):
        return load_file(name, **kwargs)
    key = name.strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise InvalidParameterError(_unknown_message(name))
    fn = DATASETS[key]
    _check_arguments(fn, key, kwargs)
    return fn(**kwargs)


def _unknown_message(name: str) -> str:
    close = difflib.get_close_matches(name.lower().replace("-", "_"), DATASETS, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    known = ", ".join(list_datasets())
    return (f"Unknown data set {name!r}.{hint} Known data sets: {known}; or give the path "
            f"of a .npz or .csv file.")


def _check_arguments(fn: Callable[..., Dataset], key: str, kwargs: dict) -> None:
    sig = inspect.signature(fn)
    try:
        sig.bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(sig.parameters)
        msg = f"Data set {key!r} does not accept these arguments ({exc}). It takes: {accepted}."
        raise InvalidParameterError(msg) from None
