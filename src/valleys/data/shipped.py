"""Real data that needs no network: scikit-learn's digits and procedurally built MNIST-1D."""

from __future__ import annotations

import random
from functools import lru_cache

import numpy as np
import torch

from .._validation import check_choice, check_generator, check_int
from ..errors import DataError, InvalidParameterError
from ._args import seed_int
from .dataset import Dataset

DIGITS_PIXEL_MAX = 16.0
"""Largest pixel value of scikit-learn's 8x8 digits (normalised data divide by it)."""
MNIST1D_SPLITS = ("train", "test", "all")


@lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as read-only ``(images (1797, 8, 8) float64, labels int64)``.

    Returns:
        The images (1797, 8, 8) and the labels (1797,), both read-only.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float64)
    labels = bunch.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def digits(*, n: int | None = None, seed: int | torch.Generator | None = 0,
           normalize: bool = True) -> Dataset:
    """scikit-learn's handwritten digits: N = 1797 images of 8x8 = 64 pixels, 10 classes.

    The data ship with scikit-learn (no download).

    Args:
        n: If given, a random subset of ``n`` rows (``1 <= n <= 1797``) drawn without
            replacement with ``seed``; None keeps all rows in their original order.
        seed: Seed of the subset (int >= 0, ``torch.Generator`` or None for 0).
        normalize: Divide pixels by 16 so they lie in ``[0, 1]``.

    Returns:
        A classification :class:`Dataset`; ``meta["indices"]`` gives the rows taken.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.
    """
    where = "digits"
    images, labels = digits_arrays()
    total = len(labels)
    gen = check_generator(seed, where)
    if n is None:
        idx = torch.arange(total)
    else:
        n = check_int(n, "n", where, min_val=1, max_val=total)
        idx = torch.randperm(total, generator=gen)[:n]
    X = torch.from_numpy(images.reshape(total, -1).copy())[idx]
    if normalize:
        X = X / DIGITS_PIXEL_MAX
    y = torch.from_numpy(labels.copy())[idx]
    meta = {"indices": idx, "normalize": bool(normalize), "n_classes": 10,
            "image_shape": (8, 8)}
    return Dataset(X, y, "digits", "classification", meta)


def mnist1d(n: int | None = None, *, seed: int | torch.Generator | None = 42,
            split: str = "train", num_samples: int = 5000) -> Dataset:
    """MNIST-1D (Greydanus 2020) generated with the ``mnist1d`` package's ``make_dataset``.

    The package's own generator builds the 10 templates in code and transforms them
    (padding, scaling, translation, correlated and i.i.d. noise, shear) into length-40
    signals; nothing is downloaded. With the defaults (``num_samples=5000``,
    ``seed=42``) this is the standard set: 4000 training and 1000 test samples. The
    generator seeds NumPy's and Python's global random state; both are restored after.

    Args:
        n: If given, the first ``n`` rows of the chosen split (rows are already shuffled).
        seed: The generator's seed (int >= 0; a ``torch.Generator`` draws one).
        split: ``"train"`` (first 80%), ``"test"`` (last 20%) or ``"all"``.
        num_samples: Total samples generated before the split, a multiple of 10 >= 10.

    Returns:
        A classification :class:`Dataset` with ``X`` of shape ``(n, 40)`` and 10 classes.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.
        DataError: If the ``mnist1d`` package is not installed.
    """
    where = "mnist1d"
    check_choice(split, "split", where, MNIST1D_SPLITS)
    num_samples = check_int(num_samples, "num_samples", where, min_val=10)
    if num_samples % 10:
        msg = (f"The 'num_samples' parameter of {where} must be a multiple of 10 (the "
               f"generator makes num_samples // 10 per class). Got {num_samples!r} instead.")
        raise InvalidParameterError(msg)
    seed = seed_int(seed, where)
    xs, ys = _mnist1d_arrays(num_samples, seed, split)
    if n is not None:
        n = check_int(n, "n", where, min_val=1, max_val=len(ys))
        xs, ys = xs[:n], ys[:n]
    meta = {"seed": seed, "split": split, "num_samples": num_samples, "n_classes": 10}
    return Dataset(torch.from_numpy(xs), torch.from_numpy(ys), "mnist1d", "classification",
                   meta)


def _mnist1d_arrays(num_samples: int, seed: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    make_dataset, get_dataset_args = _import_mnist1d()
    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    parts = {"train": (data["x"], data["y"]), "test": (data["x_test"], data["y_test"]),
             "all": (np.concatenate([data["x"], data["x_test"]]),
                     np.concatenate([data["y"], data["y_test"]]))}
    xs, ys = parts[split]
    return np.ascontiguousarray(xs, dtype=np.float64), np.ascontiguousarray(ys, dtype=np.int64)


def _import_mnist1d():
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        msg = ("The mnist1d data set needs the 'mnist1d' package: "
               "pip install --no-deps mnist1d requests. Got ImportError: " + str(exc))
        raise DataError(msg) from exc
    return make_dataset, get_dataset_args
