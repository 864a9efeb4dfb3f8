"""The Hessian of a landscape as a matrix-free operator (full or a principal sub-block).

Two ways to multiply by the Hessian:

- ``"graph"``: one forward and one backward pass with ``create_graph=True`` at theta,
  kept for the lifetime of the operator; each product is then one backward pass through
  that graph (batched over many vectors with ``is_grads_batched``). This is the
  cheapest per product when many products are taken at the same theta (Lanczos, SLQ,
  traces), at the price of keeping the graph (about two forward passes of activations
  over all the data) in memory.
- ``"functorch"``: the core :meth:`Landscape.hvps` (forward-over-reverse
  ``torch.func.jvp(grad)``, vmapped over vectors and chunked); nothing is kept between
  products.

``"auto"`` uses ``"graph"`` and falls back to ``"functorch"`` if the batched backward
pass is not supported by an operation of the model.
"""

from __future__ import annotations

import torch
from scipy.sparse.linalg import LinearOperator

from .._validation import check_choice
from ..core import Landscape
from ..core.products import HVP_METHODS
from ._inputs import ParamFilter, block_index, checked_point, selected_blocks
from ._operator import CurvatureOperator


def restrict(rows_full, index: torch.Tensor | None, dim: int, dtype: torch.dtype):
    """Turn a product on R^d into the product of the principal sub-block on ``index``.

    Rows ``V`` (k, n) are embedded as zero-padded rows of length d, multiplied, and the
    selected coordinates of the result are returned: ``V H[index][:, index]``.

    Args:
        rows_full: the product on R^d (rows).
        index: the coordinates of the block (None: all, ``rows_full`` is returned).
        dim: d.
        dtype: the landscape's dtype.

    Returns:
        The product of the sub-block (rows).
    """
    if index is None:
        return rows_full

    def rows(V: torch.Tensor) -> torch.Tensor:
        full = torch.zeros(V.shape[0], dim, dtype=dtype, device=V.device)
        full[:, index] = V
        return rows_full(full)[:, index]

    return rows


def hessian_torch_operator(land: Landscape, theta: torch.Tensor, /,
                           param_filter: ParamFilter = None, *, method: str = "auto",
                           where: str = "hessian_operator") -> CurvatureOperator:
    """The Hessian at theta as a torch :class:`CurvatureOperator` (rows in, rows out).

    Args:
        land: the landscape.
        theta: the point, a flat tensor of length d.
        param_filter: block names (or a predicate on names) selecting a principal
            sub-block; None for the full Hessian.
        method: "auto", "graph" or "functorch" (see the module docstring).
        where: the public function name used in error messages.

    Returns:
        An operator of size n = number of selected parameters whose batched product is
        vectorised over rows, in chunks of :func:`chunk_rows` vectors.

    Raises:
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.
        InvalidParameterError: for a bad ``param_filter`` or ``method``.
    """
    method = check_choice(method, "method", where, HVP_METHODS)
    theta = checked_point(land, theta, where)
    blocks = selected_blocks(land, param_filter, where)
    index = block_index(land, blocks)
    rows = restrict(land.hvp_rows(theta, method=method), index, land.dim, land.dtype)
    n = land.dim if index is None else int(index.numel())
    name = "Hessian" if index is None else f"Hessian[{', '.join(blocks)}]"
    return CurvatureOperator(rows, n, land.dtype, name, blocks, device=land.device)


def hessian_operator(land: Landscape, theta: torch.Tensor, /,
                     param_filter: ParamFilter = None, *, method: str = "auto") -> LinearOperator:
    r"""The Hessian :math:`\nabla^2 L(\theta)` as a SciPy ``LinearOperator``.

    ``matvec`` is one Hessian-vector product and ``matmat`` is one vectorised call over
    all columns (in chunks of :func:`chunk_rows`): by default backward passes through a
    gradient graph kept at theta (``method="graph"``), or the core
    :meth:`Landscape.hvps` (``method="functorch"``); see the module docstring.
    With the landscape's reduction, :math:`L = \frac1N\sum_i \ell_i` or :math:`\sum_i \ell_i`.

    Args:
        land: the landscape.
        theta: the point, a flat tensor of length d.
        param_filter: a list of block names (e.g. ``["W2", "b2"]``) or a callable
            ``name -> bool``; the operator is then the principal sub-block
            :math:`H_{SS}` on the selected coordinates S (per-layer Hessians), of size
            ``|S|``, coordinates in layout order. None for the full Hessian.
        method: "auto" (graph, falling back to functorch), "graph" or "functorch".

    Returns:
        A float64 ``LinearOperator`` of shape ``(n, n)``; its ``num_matvecs`` attribute
        counts the Hessian-vector products done through it.

    Raises:
        ShapeError: if theta does not have length d.
        NonFiniteError: if theta, the loss or the gradient is not finite (the message
            names the parameter blocks).
        InvalidParameterError: for an unknown block name, an empty selection or an
            unknown method.

    Example:
        >>> import torch
        >>> from valleys import Landscape
        >>> land = Landscape.from_function(lambda t: t[0] ** 2 + 3 * t[0] * t[1], 2)
        >>> H = hessian_operator(land, torch.zeros(2, dtype=torch.float64))
        >>> H.matvec([1.0, 0.0]).tolist()
        [2.0, 3.0]
    """
    return hessian_torch_operator(land, theta, param_filter, method=method).to_scipy()
