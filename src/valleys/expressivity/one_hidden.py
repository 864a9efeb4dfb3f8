"""Training of small one-hidden-layer classifiers for the decision-region experiments.

``S`` independent nets ``d -> h -> m`` with a leaky-ReLU hidden layer are held as batched
tensors and trained together (one ``bmm`` per layer), each on its own mean cross-entropy
(the parameters are disjoint, so summing the losses trains every net independently).
Plain torch optimizers in float64.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import check_float, check_generator, check_int


class OneHiddenNets(nn.Module):
    r"""``S`` nets ``x -> W2 sigma(W1 x + b1) + b2`` with sigma = leaky-ReLU(alpha).

    Weights follow the PyTorch default U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from
    ``seed``; ``W1[s]`` has shape ``(h, d)``.

    Args:
        S: the number of nets.
        d: the input dimension.
        h: the hidden width.
        m: the number of outputs (classes).
        alpha: the leaky-ReLU slope in [0, 1], \(\sigma(z) = \max(z, \alpha z)\).
        seed: seed of the initial weights.

    Raises:
        InvalidParameterError: if a size is not an int >= 1 or ``alpha`` is outside [0, 1].
    """

    def __init__(self, S: int, d: int, h: int, m: int, *, alpha: float = 0.1, seed: int = 0):
        super().__init__()
        where = "OneHiddenNets"
        S, d, h, m = (check_int(v, k, where, min_val=1) for v, k in
                      ((S, "S"), (d, "d"), (h, "h"), (m, "m")))
        self.alpha = check_float(alpha, "alpha", where, min_val=0.0, max_val=1.0)
        gen = check_generator(seed, where)
        u = lambda shape, fan: (2 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1) \
            / math.sqrt(fan)  # noqa: E731
        self.W1 = nn.Parameter(u((S, h, d), d))
        self.b1 = nn.Parameter(u((S, h), d))
        self.W2 = nn.Parameter(u((S, m, h), h))
        self.b2 = nn.Parameter(u((S, m), h))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Scores ``(S, N, m)`` of every net at the rows of ``X`` ``(N, d)``.

        Args:
            X: inputs, shape (N, d).

        Returns:
            The scores, shape (S, N, m).
        """
        z = torch.einsum("shd,nd->snh", self.W1, X) + self.b1[:, None, :]
        a = torch.maximum(z, self.alpha * z)
        return torch.einsum("smh,snh->snm", self.W2, a) + self.b2[:, None, :]

    def member(self, s: int):
        """Net ``s`` as a function ``(N, d) -> (N, m)`` (a frozen copy of its weights).

        Args:
            s: the net's index in [0, S).

        Returns:
            A function of the inputs; its ``W1`` attribute is the copied first-layer weight (h, d).
        """
        W1, b1, W2, b2 = (p[s].detach().clone() for p in (self.W1, self.b1, self.W2, self.b2))
        alpha = self.alpha

        def f(X: torch.Tensor) -> torch.Tensor:
            z = X @ W1.T + b1
            return torch.maximum(z, alpha * z) @ W2.T + b2

        f.W1 = W1  # exposed for rank checks
        return f

    def errors(self, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training errors per net ``(S,)``.

        Args:
            X: inputs, shape (N, d).
            y: integer labels, shape (N,).

        Returns:
            The number of misclassified rows of each net, an int tensor of shape (S,).
        """
        with torch.no_grad():
            return (self(X).argmax(-1) != y[None, :]).sum(1)


def batch_loss(nets: OneHiddenNets, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Sum over nets of each net's mean cross-entropy.

    Args:
        nets: the nets.
        X: inputs, shape (N, d).
        y: integer labels, shape (N,).

    Returns:
        A scalar tensor \(\sum_s \frac1N \sum_i \mathrm{CE}(f_s(x_i), y_i)\).
    """
    out = nets(X)
    S, N, m = out.shape
    ce = nn.functional.cross_entropy(out.reshape(S * N, m), y.repeat(S), reduction="none")
    return ce.reshape(S, N).mean(1).sum()


def train_sgd(nets: OneHiddenNets, X: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float,
              momentum: float = 0.9, batch_size: int = 32, halve_every: int = 50,
              seed: int = 0) -> list[float]:
    """Minibatch SGD with (heavy-ball) momentum; the step size halves every ``halve_every``
    epochs (thesis Sec. 5.3.4). All nets see the same minibatch order. (Written out rather
    than ``torch.optim``, whose first use imports the compiler stack: seconds of start-up
    for a few hundred tiny steps.)

    Args:
        nets: the nets, trained in place.
        X: inputs, shape (N, d).
        y: integer labels, shape (N,).
        epochs: the number of epochs (>= 1).
        lr: the initial step size.
        momentum: the heavy-ball coefficient.
        batch_size: rows per minibatch (>= 1).
        halve_every: epochs between halvings of the step size (>= 1).
        seed: seed of the minibatch order.

    Returns:
        The full-batch loss (:func:`batch_loss`) after each epoch.

    Raises:
        InvalidParameterError: if ``epochs``, ``batch_size`` or ``halve_every`` is not an int
            >= 1.
    """
    where = "train_sgd"
    epochs = check_int(epochs, "epochs", where, min_val=1)
    batch_size = check_int(batch_size, "batch_size", where, min_val=1)
    halve_every = check_int(halve_every, "halve_every", where, min_val=1)
    gen = check_generator(seed, where)
    params = list(nets.parameters())
    velocity = [torch.zeros_like(q) for q in params]
    history = []
    for epoch in range(epochs):
        step = lr * 0.5 ** (epoch // halve_every)
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            grads = torch.autograd.grad(batch_loss(nets, X[idx], y[idx]), params)
            with torch.no_grad():
                for q, v, g in zip(params, velocity, grads, strict=True):
                    v.mul_(momentum).add_(g)
                    q.sub_(step * v)
        with torch.no_grad():
            history.append(float(batch_loss(nets, X, y)))
    return history


def train_adam(nets: OneHiddenNets, X: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float,
               extra_steps: int = 0, betas: tuple[float, float] = (0.9, 0.999),
               eps: float = 1e-8) -> tuple[int, list[float]]:
    """Full-batch Adam until every net fits the training set, then ``extra_steps`` more
    (to widen the margins).

    Whether all nets fit is checked every 10 steps.

    Args:
        nets: the nets, trained in place.
        X: inputs, shape (N, d).
        y: integer labels, shape (N,).
        steps: most steps (>= 1).
        lr: the step size.
        extra_steps: steps after every net fits.
        betas: Adam's moment decay rates.
        eps: Adam's denominator offset.

    Returns:
        ``(fitted_at, history)``: the step at which all nets fitted (or ``steps``) and the
        loss (:func:`batch_loss`) at every step.

    Raises:
        InvalidParameterError: if ``steps`` is not an int >= 1.
    """
    steps = check_int(steps, "steps", "train_adam", min_val=1)
    params = list(nets.parameters())
    m1 = [torch.zeros_like(q) for q in params]
    m2 = [torch.zeros_like(q) for q in params]
    history, fitted_at, left = [], steps, None
    for k in range(steps):
        loss = batch_loss(nets, X, y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            c1, c2 = 1 - betas[0] ** (k + 1), 1 - betas[1] ** (k + 1)
            for q, a, b, g in zip(params, m1, m2, grads, strict=True):
                a.mul_(betas[0]).add_(g, alpha=1 - betas[0])
                b.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
                q.sub_(lr * (a / c1) / ((b / c2).sqrt() + eps))
        history.append(float(loss.detach()))
        if left is None and k % 10 == 0 and int(nets.errors(X, y).max()) == 0:
            fitted_at, left = k, extra_steps
        if left is not None:
            if left <= 0:
                break
            left -= 1
    return fitted_at, history
