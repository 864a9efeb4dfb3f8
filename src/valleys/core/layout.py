"""Flat parameter vectors: which slice of theta is which named tensor."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..errors import InvalidParameterError, ShapeError


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and slices of the blocks of a flat parameter vector.

    For an ``nn.Module`` the blocks are its trainable parameters in ``named_parameters``
    order: parameters with ``requires_grad=False`` are frozen and not part of theta
    (``Landscape.frozen`` names them) unless the landscape is built with
    ``include_frozen=True``.

    Args:
        names: block names in order (for an ``nn.Module`` the ``named_parameters`` names).
        shapes: the shape of each block.

    Example:
        >>> import torch
        >>> lay = ParamLayout.from_params({"W": torch.zeros(2, 3), "b": torch.zeros(2)})
        >>> lay.dim, lay.slice("b")
        (8, slice(6, 8, None))
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if len(self.names) != len(self.shapes):
            msg = f"ParamLayout needs one shape per name. Got {len(self.names)} names and {len(self.shapes)} shapes."
            raise ShapeError(msg)
        if len(set(self.names)) != len(self.names):
            msg = f"ParamLayout block names must be unique. Got {self.names}."
            raise InvalidParameterError(msg)

    @classmethod
    def from_params(cls, params: Mapping[str, torch.Tensor]) -> ParamLayout:
        """Build the layout of a dict of tensors (insertion order).

        Args:
            params: name -> tensor.

        Returns:
            The layout (names and shapes).
        """
        return cls(tuple(params), tuple(tuple(t.shape) for t in params.values()))

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of entries of each block."""
        return tuple(math.prod(s) for s in self.shapes)

    @property
    def dim(self) -> int:
        """Total number of parameters d."""
        return sum(self.sizes)

    @property
    def slices(self) -> dict[str, slice]:
        """Mapping from block name to its slice of theta."""
        out, start = {}, 0
        for name, size in zip(self.names, self.sizes, strict=True):
            out[name] = slice(start, start + size)
            start += size
        return out

    def slice(self, name: str) -> slice:
        """The slice of theta holding block ``name``.

        Args:
            name: a block name.

        Returns:
            Its slice of theta.

        Raises:
            InvalidParameterError: for an unknown name.
        """
        try:
            return self.slices[name]
        except KeyError:
            msg = f"No parameter block named {name!r}. Blocks are: {', '.join(self.names)}."
            raise InvalidParameterError(msg) from None

    def block_of(self, index: int) -> str:
        """Name of the block that holds coordinate ``index`` of theta.

        Args:
            index: a coordinate, 0 <= index < d.

        Returns:
            The block's name.

        Raises:
            ShapeError: if ``index`` is out of range.
        """
        for name, sl in self.slices.items():
            if sl.start <= index < sl.stop:
                return name
        msg = f"Index {index} is outside a parameter vector of length {self.dim}."
        raise ShapeError(msg)

    def mask(self, names) -> torch.Tensor:
        """Boolean mask of length d that selects the blocks in ``names``.

        Args:
            names: block names.

        Returns:
            The mask, (d,) bool.
        """
        m = torch.zeros(self.dim, dtype=torch.bool)
        for name in names:
            m[self.slice(name)] = True
        return m

    def flatten(self, params: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate the blocks of ``params`` (in layout order) into one flat vector.

        Args:
            params: name -> tensor, every block of the layout.

        Returns:
            The flat vector, length d.

        Raises:
            ShapeError: if a block is missing or has the wrong shape.
        """
        missing = [n for n in self.names if n not in params]
        if missing:
            msg = f"flatten needs every block of the layout. Missing: {', '.join(missing)}."
            raise ShapeError(msg)
        parts = []
        for name, shape in zip(self.names, self.shapes, strict=True):
            t = params[name]
            if tuple(t.shape) != shape:
                msg = f"Block {name!r} must have shape {shape}. Got {tuple(t.shape)}."
                raise ShapeError(msg)
            parts.append(t.reshape(-1))
        if not parts:
            return torch.zeros(0)
        return torch.cat(parts)

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Split a flat vector (or a batch ``(..., d)``) into named blocks (views).

        Args:
            theta: (d,) or (..., d).

        Returns:
            name -> view of shape (..., *block shape).
        """
        self.check(theta)
        lead = tuple(theta.shape[:-1])
        out = {}
        for name, shape, sl in zip(self.names, self.shapes, self.slices.values(), strict=True):
            out[name] = theta[..., sl].reshape(lead + shape)
        return out

    def check(self, theta: torch.Tensor) -> None:
        """Raise :class:`ShapeError` unless ``theta`` has last dimension d.

        Args:
            theta: a point or a batch of points.

        Raises:
            ShapeError: if theta is not a tensor or its last dimension is not d.
        """
        if not isinstance(theta, torch.Tensor):
            msg = f"theta must be a torch.Tensor of length {self.dim}. Got {type(theta).__name__}."
            raise ShapeError(msg)
        if theta.ndim == 0 or theta.shape[-1] != self.dim:
            msg = (f"theta must have length d = {self.dim} (blocks: "
                   f"{', '.join(f'{n}{list(s)}' for n, s in zip(self.names, self.shapes, strict=True))}). "
                   f"Got shape {tuple(theta.shape)}.")
            raise ShapeError(msg)
