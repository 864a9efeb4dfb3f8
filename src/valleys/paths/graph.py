"""A graph of minima: nodes are minima, edges the saddle height of the best path found.

- :func:`canonical` removes the symmetries of an MLP before minima are compared:
  hidden units sorted (permutation invariance) and, for positively homogeneous
  activations (ReLU, leaky ReLU), each unit's incoming weights and bias scaled to unit
  norm with the scale moved to its outgoing weights.
- :class:`MinimaGraph` (networkx): minimum spanning tree, minimax barrier ("topographic
  distance": the lowest possible highest point over paths in the graph, read off the
  spanning tree), and a disconnectivity figure (single-linkage tree at saddle heights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidParameterError, ModelError
from ..nets.models import MLP

if TYPE_CHECKING:
    from ..core import Landscape


def canonical(land: Landscape, theta: torch.Tensor, /) -> torch.Tensor:
    """theta with the MLP's hidden-unit permutations and (ReLU) rescalings removed.

    Layer by layer, for a positively homogeneous activation each hidden unit's incoming
    weights and bias are scaled to unit norm (the scale moved onto its outgoing weights),
    then the units are sorted lexicographically by their incoming weights.

    Args:
        land: the landscape of a valleys MLP.
        theta: the point, a tensor of shape (d,).

    Returns:
        The canonical point, a tensor of shape (d,) with the same loss.

    Raises:
        ModelError: if the landscape's module is not a valleys MLP.
    """
    module = land.module
    if not isinstance(module, MLP):
        msg = "canonical needs a landscape of a valleys MLP."
        raise ModelError(msg)
    blocks = {k: v.clone() for k, v in land.layout.unflatten(torch.as_tensor(theta, dtype=land.dtype)).items()}
    L = module.depth
    homogeneous = all(a.homogeneous_degree == 1 for a in module.acts)
    for k in range(1, L):
        W, Wn = blocks[f"W{k}"], blocks[f"W{k + 1}"]
        b = blocks[f"b{k}"] if module.bias else None
        if homogeneous:
            inc = torch.cat([W, b[:, None]], 1) if b is not None else W
            scale = inc.norm(dim=1).clamp_min(1e-300)
            W /= scale[:, None]
            if b is not None:
                b /= scale
            Wn *= scale[None, :]
        key = torch.cat([W, b[:, None]], 1) if b is not None else W
        order = np.lexsort(key.detach().numpy().T[::-1])
        order = torch.as_tensor(order.copy())
        blocks[f"W{k}"] = W[order]
        if b is not None:
            blocks[f"b{k}"] = b[order]
        blocks[f"W{k + 1}"] = Wn[:, order]
    return land.layout.flatten(blocks)


@dataclass
class MinimaGraph:
    """Minima as nodes, best-known saddle heights as edge weights.

    Attributes:
        minima: node index -> theta.
        losses: node index -> L(theta).
        edges: (i, j) -> saddle height of the best path found between them.
    """

    minima: list[torch.Tensor] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    edges: dict[tuple[int, int], float] = field(default_factory=dict)

    def add_minimum(self, land, theta, *, tol: float = 1e-6) -> int:
        r"""Add a minimum unless it equals a node up to symmetry (returns the node index).

        For a valleys MLP the point is first brought to :func:`canonical` form; two points are
        equal when \(\|m - c\| \le \text{tol} \max(1, \|c\|)\).

        Args:
            land: the landscape.
            theta: the minimum, a tensor of shape (d,).
            tol: the relative distance below which two minima are one node.

        Returns:
            The index of the existing equal node, or of the new one.
        """
        c = canonical(land, theta) if isinstance(land.module, MLP) else torch.as_tensor(theta, dtype=land.dtype)
        for i, m in enumerate(self.minima):
            if float((m - c).norm()) <= tol * max(1.0, float(c.norm())):
                return i
        self.minima.append(c)
        self.losses.append(float(land.loss(c)))
        return len(self.minima) - 1

    def add_edge(self, i: int, j: int, saddle: float) -> None:
        """Record a path between i and j with highest point ``saddle`` (keep the lowest).

        Args:
            i: a node index.
            j: another node index.
            saddle: the highest loss along the path found.

        Raises:
            InvalidParameterError: if ``i == j``.
        """
        if i == j:
            msg = "An edge joins two different minima."
            raise InvalidParameterError(msg)
        key = (min(i, j), max(i, j))
        self.edges[key] = min(saddle, self.edges.get(key, np.inf))

    def graph(self):
        """The minima and edges as a networkx graph.

        Returns:
            A :class:`networkx.Graph`: nodes with attribute ``loss``, edges with ``weight`` = the
            saddle height.
        """
        import networkx as nx

        g = nx.Graph()
        for i, L in enumerate(self.losses):
            g.add_node(i, loss=L)
        for (i, j), s in self.edges.items():
            g.add_edge(i, j, weight=s)
        return g

    def spanning_tree(self):
        """The minimum spanning tree (networkx) of the saddle heights.

        Returns:
            A :class:`networkx.Graph`, the minimum spanning tree by edge weight.
        """
        import networkx as nx

        return nx.minimum_spanning_tree(self.graph(), weight="weight")

    def minimax(self, i: int, j: int) -> float:
        r"""The minimax saddle height between i and j over paths in the graph (max edge on the MST path).

        Args:
            i: a node index.
            j: another node index.

        Returns:
            The height; \(L_i\) when i = j, inf when they are not connected.
        """
        import networkx as nx

        if i == j:
            return self.losses[i]
        tree = self.spanning_tree()
        try:
            nodes = nx.shortest_path(tree, i, j)
        except nx.NetworkXNoPath:
            return float("inf")
        return max(tree[u][v]["weight"] for u, v in zip(nodes[:-1], nodes[1:], strict=True))

    def barrier(self, i: int, j: int) -> float:
        r"""\(\text{minimax}(i, j) - \max(L_i, L_j)\).

        Args:
            i: a node index.
            j: another node index.

        Returns:
            The barrier between the two minima over the known paths (inf when unconnected).
        """
        return self.minimax(i, j) - max(self.losses[i], self.losses[j])

    def to_frame(self) -> pd.DataFrame:
        """One row per edge.

        Returns:
            A :class:`pandas.DataFrame` with columns ``i``, ``j``, ``saddle``, ``minimax`` and
            ``barrier``.
        """
        return pd.DataFrame([{"i": i, "j": j, "saddle": s, "minimax": self.minimax(i, j),
                              "barrier": self.barrier(i, j)} for (i, j), s in sorted(self.edges.items())])

    def to_dict(self) -> dict:
        """The graph as a JSON-able dict.

        Returns:
            ``{"minima": count, "losses": [...], "edges": [[i, j, saddle], ...]}``.
        """
        return {"minima": len(self.minima), "losses": self.losses,
                "edges": [[i, j, s] for (i, j), s in sorted(self.edges.items())]}

    def plot_disconnectivity(self, ax) -> None:
        """Disconnectivity graph: minima at their loss, merged at the minimax saddle heights.

        Args:
            ax: a matplotlib Axes to draw on.
        """
        n = len(self.minima)
        if n < 2:
            ax.plot([0], self.losses, "ko")
            return
        tree = self.spanning_tree()
        merges = sorted((d["weight"], u, v) for u, v, d in tree.edges(data=True))
        parent = list(range(n))
        pos = {i: float(i) for i in range(n)}
        bottom = {i: self.losses[i] for i in range(n)}

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x

        order = sorted(range(n), key=lambda i: self.losses[i])
        for rank, i in enumerate(order):
            pos[i] = float(rank)
        for h, u, v in merges:
            ru, rv = find(u), find(v)
            for r in (ru, rv):
                ax.plot([pos[r], pos[r]], [bottom[r], h], "k-", lw=1)
            ax.plot([pos[ru], pos[rv]], [h, h], "k-", lw=1)
            parent[rv] = ru
            pos[ru] = 0.5 * (pos[ru] + pos[rv])
            bottom[ru] = h
        root = find(0)
        ax.plot([pos[root], pos[root]], [bottom[root], bottom[root] + 0.05 * (bottom[root] - min(self.losses) + 1e-12)],
                "k-", lw=1)
        for rank, i in enumerate(order):
            ax.plot([rank], [self.losses[i]], "ko", ms=3)
        ax.set(xticks=[], ylabel="loss", title="disconnectivity graph")

    def __repr__(self) -> str:
        return f"MinimaGraph(minima={len(self.minima)}, edges={len(self.edges)})"
