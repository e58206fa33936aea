"""Selective copying (Gu and Dao's Mamba task, which the minRNN paper also uses), scaled to a CPU: a few data
tokens at random places among blanks, then as many recall markers; at each marker the model must output the next
data token, in order. The positions vary, so a model must decide from the content what to store.

Tokens: 0 is the blank, 1 ... vocab the data, vocab + 1 the marker. Layout batch first.
"""
import itertools

import numpy as np
import torch
from torch import nn

from labutils.nn import minrnn
from labutils.nn.loop import History, make_optimizer, train

BLANK = 0


def selective_copy(batch: int, rng: np.random.Generator, vocab: int = 8, blanks: int = 64, copies: int = 4):
    """-> tokens (batch, blanks + copies) longs, targets (batch, copies) longs in 1 ... vocab.

    The first ``blanks`` positions hold ``copies`` data tokens at distinct random positions (in order of
    position), blanks elsewhere; the last ``copies`` positions are markers (vocab + 1)."""
    if copies > blanks:
        raise ValueError(f"copies={copies} data tokens do not fit among blanks={blanks} positions")
    data = rng.integers(1, vocab + 1, size=(batch, copies))
    positions = np.sort(rng.random((batch, blanks)).argsort(axis=1)[:, :copies], axis=1)
    tokens = np.full((batch, blanks + copies), BLANK, dtype=np.int64)
    np.put_along_axis(tokens, positions, data, axis=1)
    tokens[:, blanks:] = vocab + 1
    return torch.from_numpy(tokens), torch.from_numpy(data)


class _LSTMLayer(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lstm = nn.LSTM(width, width, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


LAYERS = {"minGRU": minrnn.MinGRU, "minLSTM": minrnn.MinLSTM, "LSTM": lambda width, _: _LSTMLayer(width)}


class CopyModel(nn.Module):
    """Embedding -> ``layers`` residual recurrent layers (each h + layer(LayerNorm(h))) -> a linear head read at
    the markers. tokens (batch, T) -> logits (batch, copies, vocab + 1); class 0 is never a target."""

    def __init__(self, cell: str, layers: int, width: int = 64, vocab: int = 8, copies: int = 4):
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(f"cell must be one of {', '.join(LAYERS)}, not {cell!r}")
        self.copies = copies
        self.embed = nn.Embedding(vocab + 2, width)
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.cells = nn.ModuleList(LAYERS[cell](width, width) for _ in range(layers))
        self.head = nn.Linear(width, vocab + 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        for norm, cell in zip(self.norms, self.cells):
            h = h + cell(norm(h))
        return self.head(h[:, -self.copies:])


def _loss_and_accuracy(model, tokens, targets, by_copy=False):
    logits = model(tokens)
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    right = (logits.argmax(-1) == targets).float()
    return loss, right.mean(0) if by_copy else right.mean()


def train_selective_copy(cell: str, layers: int, max_steps: int, seed: int = 0, width: int = 64, vocab: int = 8,
                         blanks: int = 64, copies: int = 4, batch: int = 64, lr: float = 3e-3, every: int = 100,
                         patience: int = 5, solved_at: float = 0.999, test_size: int = 2000) -> History:
    """Train a CopyModel on fresh sequences -> History (``.results``: ``test_acc``, the per-token accuracy on
    ``test_size`` test sequences of another seed, and ``test_acc_by_copy``, a list of ``copies`` accuracies: the
    first data token's, the second's, ...).

    Validated every ``every`` steps on 1,000 fixed sequences; stops when validation accuracy reaches ``solved_at``
    (solved) or after ``patience`` validations without a lower loss (a plateau); the best weights are kept."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = CopyModel(cell, layers, width, vocab, copies)
    task = dict(vocab=vocab, blanks=blanks, copies=copies)
    val = selective_copy(1000, np.random.default_rng(20_000 + seed), **task)
    history = train(model, (selective_copy(batch, rng, **task) for _ in itertools.count()),
                    lambda m, b: _loss_and_accuracy(m, *b)[0], make_optimizer("adam", model.parameters(), lr),
                    max_steps, validate=lambda m: tuple(v.item() for v in _loss_and_accuracy(m, *val)),
                    every=every, patience=patience, solved=lambda loss, acc: acc >= solved_at, clip=1.0)
    test = selective_copy(test_size, np.random.default_rng(10_000 + seed), **task)
    with torch.no_grad():
        by_copy = _loss_and_accuracy(model, *test, by_copy=True)[1]
    history.results.update(test_acc=by_copy.mean().item(), test_acc_by_copy=by_copy.tolist())
    return history


@torch.no_grad()
def first_gates(model: CopyModel) -> torch.Tensor:
    """A minGRU CopyModel's first-layer update gates z for each token -> (vocab + 2, width): row 0 the blank,
    1 ... vocab the data, vocab + 1 the marker. They read x_t alone, so one row per token is all there is."""
    cell = model.cells[0]
    if not isinstance(cell, minrnn.MinGRU):
        raise TypeError(f"first_gates reads a minGRU's gates; this model's first layer is {type(cell).__name__}")
    k, _ = cell.linear(model.norms[0](model.embed.weight)).chunk(2, dim=-1)
    return torch.sigmoid(k)


def read_table():
    """The full table measured by benchmarks/selective_copy.py -> list of dicts (cell, layers, max_steps,
    patience, steps, best_step, converged, stopped, test_acc, copy1_acc ... copy4_acc, seconds, commit, machine)."""
    from labutils.results import read_measured
    types = {name: int for name in ("layers", "max_steps", "patience", "steps", "best_step")}
    types.update({name: float for name in ("test_acc", "copy1_acc", "copy2_acc", "copy3_acc", "copy4_acc",
                                           "seconds")}, converged=lambda v: v == "True")
    return read_measured("selective_copy.csv", types, "python benchmarks/selective_copy.py (about 10 minutes)")
