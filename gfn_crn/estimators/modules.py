"""The feed-forward network used by the policy and the learned backward policy."""

from __future__ import annotations

import torch
import torch.nn as nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}


class FFNN(nn.Module):
    """``n_layers`` hidden layers of width ``hidden`` with a configurable activation.

    ``n_layers = 0`` gives a single linear map. ``output_dim = None`` ends on the last hidden
    layer (a trunk). ``input_dim`` is exposed for torchgfn's default preprocessor.
    """

    def __init__(self, input_dim: int, output_dim: int | None, hidden: int = 128, n_layers: int = 2,
                 activation: str = "relu", layer_norm: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r} (known: {', '.join(ACTIVATIONS)})")
        self.input_dim = int(input_dim)
        layers: list[nn.Module] = []
        d = self.input_dim
        for _ in range(n_layers):
            layers.append(nn.Linear(d, hidden))
            if layer_norm:
                layers.append(nn.LayerNorm(hidden))
            layers.append(ACTIVATIONS[activation]())
            d = hidden
        if output_dim is not None:
            layers.append(nn.Linear(d, output_dim))
            d = output_dim
        self.output_dim = d
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConditionEncoder(nn.Module):
    """An FFNN over the features of a condition tensor (``space.features``: a continuous
    variable scaled to [-1, 1] over its range, a discrete one one-hot); ``space`` is the env's
    condition space (``env.spec.conditions``). The conditional policy's condition module and the
    conditional log Z's module."""

    def __init__(self, space, output_dim: int, hidden: int = 64, n_layers: int = 1, activation: str = "relu"):
        super().__init__()
        self.space = space
        self.input_dim = int(space.dim)
        self.net = FFNN(space.n_features, output_dim, hidden, n_layers, activation)
        self.output_dim = self.net.output_dim

    def forward(self, conditions: torch.Tensor) -> torch.Tensor:
        x = self.space.features(conditions)
        p = next(self.net.parameters())
        return self.net(x.to(p.dtype))


class ZeroModule(nn.Module):
    """Outputs zeros of width ``output_dim`` (a parameter-free uniform policy)."""

    def __init__(self, input_dim: int, output_dim: int):
        super().__init__()
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*x.shape[:-1], self.output_dim, dtype=x.dtype, device=x.device)
