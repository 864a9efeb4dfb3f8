"""The :class:`Dataset` record every generator, shipped set and file loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import check_choice, check_generator, check_int
from ..errors import DataError, ShapeError

TASKS = ("regression", "classification")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A full-batch data set: float64 inputs, targets, a name, a task and metadata.

    Attributes:
        X: Inputs, a float64 tensor of shape ``(N, d)``, or ``(N, C, H, W)`` images for
            models that take them (convolutional nets).
        y: Targets. For ``task="classification"`` an int64 tensor of shape ``(N,)``
            with labels in ``[0, n_classes)``; for ``task="regression"`` a float64
            tensor of shape ``(N,)`` (one output) or ``(N, m)``.
        name: Short name of the set (``"gaussian"``, ``"digits"``, a file stem, ...).
        task: ``"regression"`` or ``"classification"``.
        meta: Everything needed to reproduce or check the set: generator arguments,
            the planted weights, cluster centres, angles, file path, ...

    Raises:
        ShapeError: If ``X`` is not 2-D (or 4-D) or ``X`` and ``y`` differ in length.
        DataError: If the dtypes do not match the task.
        InvalidParameterError: If ``task`` is not one of the two tasks.
    """

    X: torch.Tensor
    y: torch.Tensor
    name: str
    task: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(self.task, "task", "Dataset", TASKS)
        if not isinstance(self.X, torch.Tensor) or self.X.ndim not in (2, 4):
            shape = tuple(self.X.shape) if hasattr(self.X, "shape") else type(self.X).__name__
            msg = (f"Dataset.X must be a 2-D tensor (samples x features) or a 4-D image batch "
                   f"(N, C, H, W) for models that take images. Got {shape}.")
            raise ShapeError(msg)
        if self.X.dtype != torch.float64:
            msg = f"Dataset.X must be float64. Got {self.X.dtype}."
            raise DataError(msg)
        if not isinstance(self.y, torch.Tensor) or self.y.ndim == 0 or len(self.y) != len(self.X):
            got = tuple(self.y.shape) if isinstance(self.y, torch.Tensor) else type(self.y).__name__
            msg = f"Dataset.y must hold one target per row of X ({len(self.X)}). Got {got}."
            raise ShapeError(msg)
        self._check_targets()

    def _check_targets(self) -> None:
        if self.task == "classification":
            if self.y.dtype != torch.int64 or self.y.ndim != 1:
                msg = ("Classification labels must be an int64 tensor of shape (N,). "
                       f"Got {self.y.dtype} of shape {tuple(self.y.shape)}.")
                raise DataError(msg)
        elif self.y.dtype != torch.float64 or self.y.ndim > 2:
            msg = ("Regression targets must be a float64 tensor of shape (N,) or (N, m). "
                   f"Got {self.y.dtype} of shape {tuple(self.y.shape)}.")
            raise DataError(msg)

    @property
    def n_samples(self) -> int:
        """Number of samples N."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Input dimension d (C * H * W for images)."""
        return int(self.X[0].numel()) if len(self.X) else int(torch.tensor(self.X.shape[1:]).prod())

    @property
    def n_classes(self) -> int | None:
        """Number of classes (``meta["n_classes"]`` or max label + 1); None for regression."""
        if self.task != "classification":
            return None
        if "n_classes" in self.meta:
            return int(self.meta["n_classes"])
        return int(self.y.max()) + 1 if len(self.y) else 0

    def as_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(X, y)``, the form :class:`valleys.Landscape` takes as data.

        Returns:
            The inputs X and the targets y.
        """
        return self.X, self.y

    def split(self, n_train: int, *, seed: int | torch.Generator | None = 0
              ) -> tuple[Dataset, Dataset]:
        """Split into a random training part of ``n_train`` rows and the rest.

        Args:
            n_train: Number of training samples, ``1 <= n_train < N``.
            seed: Seed of the random permutation.

        Returns:
            ``(train, test)``, two data sets with the same name, task and metadata,
            plus ``meta["indices"]`` holding the rows of this set each one took.

        Raises:
            InvalidParameterError: If ``n_train`` is not in ``[1, N - 1]``.
        """
        n_train = check_int(n_train, "n_train", "Dataset.split", min_val=1,
                            max_val=self.n_samples - 1)
        perm = torch.randperm(self.n_samples, generator=check_generator(seed))
        return self._take(perm[:n_train]), self._take(perm[n_train:])

    def _take(self, idx: torch.Tensor) -> Dataset:
        meta = {**self.meta, "indices": idx}
        return Dataset(self.X[idx], self.y[idx], self.name, self.task, meta)
