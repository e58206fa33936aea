"""Notebook 10: a character language model made of minGRU layers, trained like notebook 07's CharLSTM.

Batch first: inputs (B, T) character indices -> logits (B, T, vocab_size). The state between chunks is each
layer's last h, a tuple of (B, width) tensors, so ``charlstm.train_charlstm`` (truncated BPTT, the state carried
and detached) and ``charlstm.cross_entropy`` take this model as they take a CharLSTM.
"""
from typing import Optional, Tuple

import torch
from torch import nn

from labutils.nn.minrnn import MinGRU


class _Block(nn.Module):
    """h + minGRU(LayerNorm(h)), then h + MLP(LayerNorm(h)) (none with expand=0): the MLP, of expand * width
    hidden units, adds a nonlinear mixing of channels to the minGRU's element-wise recurrence (pre-norm
    residual blocks, as language models stack them)."""

    def __init__(self, width: int, expand: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.cell = MinGRU(width, width)
        self.mlp = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, expand * width), nn.GELU(),
                                 nn.Linear(expand * width, width)) if expand else None

    def forward(self, h, h0):
        out = self.cell(self.norm1(h), h0)
        h = h + out
        return (h if self.mlp is None else h + self.mlp(h)), out[:, -1]


class CharMinGRU(nn.Module):
    """Embedding (width) -> ``layers`` blocks (minGRU and MLP, each residual) -> LayerNorm -> linear layer over
    the vocabulary."""

    def __init__(self, vocab_size: int, width: int = 128, layers: int = 2, expand: int = 2):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, width=width, layers=layers, expand=expand)
        self.embedding = nn.Embedding(vocab_size, width)
        self.blocks = nn.ModuleList(_Block(width, expand) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, x: torch.Tensor, state: Optional[Tuple[torch.Tensor, ...]] = None):
        """x: (B, T) longs -> logits (B, T, vocab_size), state (one (B, width) tensor per layer)."""
        h, last = self.embedding(x), []
        for i, block in enumerate(self.blocks):
            h, end = block(h, None if state is None else state[i])
            last.append(end)
        return self.head(self.norm(h)), tuple(last)


def read_comparison() -> dict:
    """The comparison measured by benchmarks/char_lm.py -> {"LSTM": row, "minGRU": row}, each a dict (params,
    steps, best_step, converged, stopped, val_nats, heldout_nats, seconds, commit, machine)."""
    from labutils.results import read_measured
    types = {"params": int, "steps": int, "best_step": int, "converged": lambda v: v == "True",
             "val_nats": float, "heldout_nats": float, "seconds": float}
    rows = read_measured("char_lm.csv", types, "python benchmarks/char_lm.py (about 8 minutes)")
    return {row["model"]: row for row in rows}
