"""Notebook 05: sentiment classification of IMDB reviews: the data pipeline, the model, training and testing.

Batches are batch-first: ids (B, T) right-padded, lengths (B,). ``SentimentRNN`` reads each review's state after
its last *real* token. Instead of packed sequences (slow on CPU with torch 2.13: a packed batch of mixed lengths
runs many times slower than a padded one), every direction runs on right-padded input and the state is gathered
at position length-1; the backward direction runs on each review reversed in place (``reverse_padded``), so
padding never enters it. ``imdb_data`` and ``train_and_test`` are the one pipeline that notebook 05 and
``benchmarks/imdb_grid.py`` share.
"""
from dataclasses import dataclass
from typing import List

import numpy as np
import torch
from torch import nn

from labutils.config import LessonBudget, per_mode
from labutils.data.text import cached_encoding, length_buckets, pad_ids
from labutils.nn.loop import choose_device, make_optimizer, train

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def reverse_padded(x, lengths):
    """Reverse the first lengths[b] steps of each row of x (B, T, ...), leaving the padding where it is."""
    T = x.shape[1]
    t = torch.arange(T, device=x.device)[None, :]
    idx = torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)        # (B, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


def last_real_step(out, lengths):
    """out: (B, T, D) -> (B, D), the row at position lengths[b] - 1."""
    idx = (lengths - 1).view(-1, 1, 1).expand(-1, 1, out.shape[2])
    return out.gather(1, idx).squeeze(1)


class SentimentRNN(nn.Module):
    """Embedding -> RNN/LSTM/GRU (layers, optional bidirectional) -> features -> one logit (positive review).

    pooling: "last" (the state after the last real token, in each direction, as in the course),
    "max" or "mean" (over the real time steps of the top layer's outputs).
    """

    def __init__(self, vocab_size, embed_dim=50, hidden_size=64, cell="lstm", layers=1, bidirectional=False,
                 dropout=0.0, embeddings=None, freeze_embeddings=False, pooling="last", padding_idx=0,
                 recurrent_init="orthogonal"):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, not {cell!r}")
        if pooling not in ("last", "max", "mean"):
            raise ValueError(f"pooling must be 'last', 'max' or 'mean', not {pooling!r}")
        if recurrent_init not in ("orthogonal", "default"):
            raise ValueError(f"recurrent_init must be 'orthogonal' or 'default', not {recurrent_init!r}")
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden_size=hidden_size, cell=cell,
                           layers=layers, bidirectional=bidirectional, dropout=dropout, pooling=pooling,
                           recurrent_init=recurrent_init)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        if embeddings is not None:
            embeddings = torch.as_tensor(embeddings, dtype=torch.float32)
            if embeddings.shape != (vocab_size, embed_dim):
                raise ValueError(f"embeddings have shape {tuple(embeddings.shape)}, "
                                 f"expected ({vocab_size}, {embed_dim})")
            self.embedding.weight.data.copy_(embeddings)
        self.embedding.weight.requires_grad = not freeze_embeddings
        directions = 2 if bidirectional else 1
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for layer in range(layers):
            size_in = embed_dim if layer == 0 else hidden_size * directions
            self.forward_layers.append(CELLS[cell](size_in, hidden_size, batch_first=True))
            if bidirectional:
                self.backward_layers.append(CELLS[cell](size_in, hidden_size, batch_first=True))
        if recurrent_init == "orthogonal":
            # every gate's (hidden, hidden) recurrent block starts orthogonal: all its singular values are 1,
            # so the gradient through the recurrence neither shrinks nor grows at the start (notebook 01)
            for rnn in list(self.forward_layers) + list(self.backward_layers):
                for block in rnn.weight_hh_l0.data.split(hidden_size, dim=0):
                    nn.init.orthogonal_(block)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * directions, 1)

    def features(self, ids, lengths):
        """ids: (B, T), lengths: (B,) -> (B, hidden_size * directions)"""
        x = self.dropout(self.embedding(ids))
        for i, rnn in enumerate(self.forward_layers):
            out, _ = rnn(x)
            if self.backward_layers:
                back, _ = self.backward_layers[i](reverse_padded(x, lengths))
                last = torch.cat([last_real_step(out, lengths), last_real_step(back, lengths)], dim=1)
                out = torch.cat([out, reverse_padded(back, lengths)], dim=2)
            else:
                last = last_real_step(out, lengths)
            x = self.dropout(out) if i < len(self.forward_layers) - 1 else out
        if self.config["pooling"] == "last":
            return last
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).unsqueeze(2)
        if self.config["pooling"] == "max":
            return x.masked_fill(~mask, float("-inf")).max(dim=1).values
        return (x * mask).sum(dim=1) / lengths[:, None].to(x.dtype)

    def forward(self, ids, lengths):
        """ids: (B, T) long, lengths: (B,) long -> logits (B,)"""
        if ids.dim() != 2 or lengths.shape != ids.shape[:1]:
            raise ValueError(f"ids must be (B, T) and lengths (B,); got {tuple(ids.shape)} and {tuple(lengths.shape)}")
        return self.head(self.dropout(self.features(ids, lengths))).squeeze(1)


# ---- data -----------------------------------------------------------------------------------------------

# Adam's learning rate per cell: the plain RNN is unstable at the gated cells' rate.
LEARNING_RATE = {"rnn": 2e-3, "lstm": 5e-3, "gru": 5e-3}
# Dropout on the embedded words (and between layers) per cell, measured on the 1-layer models (full budget,
# AVX-512 kernels, before deterministic() pinned AVX2):
# 0.3 lifts the plain RNN from 0.787 to 0.827 test accuracy (uni) and 0.793 to 0.819 (bi), and costs the LSTM
# 0.004-0.010, so the gated cells go without.
DROPOUT = {"rnn": 0.3, "lstm": 0.0, "gru": 0.0}
# How many of a review's last tokens each cell reads (of the budget's max_len kept). Measured, 1 layer, one
# direction: the LSTM gains from 400 over 256 (test 0.891 vs 0.882), the plain RNN loses (0.802 vs 0.827, with its
# dropout): its last state keeps little of the early words, and more of them is more to carry them through.
TOKENS = {"rnn": 256, "lstm": 400, "gru": 400}


@dataclass(frozen=True)
class Budget(LessonBudget):
    """How much data and training one run of the pipeline gets (notebook 05's budgets, full and quick)."""
    n_train: int = per_mode(20000, 3000)   # training reviews (of the 25,000 training split; the rest validates)
    n_val: int = per_mode(5000, 500)       # validation reviews, from the end of the same shuffle
    n_test: int = per_mode(25000, 2000)    # the first n_test of a fixed shuffle of the 25,000 test reviews
    max_len: int = per_mode(400, 128)      # tokens kept per review, the last ones (each cell reads TOKENS[cell])
    min_freq: int = per_mode(5, 5)         # vocabulary: words seen at least this often in the training split
    max_epochs: int = per_mode(15, 6)      # the cap; early stopping normally ends a run well before it
    patience: int = per_mode(2, 2)         # epochs without a better validation loss before stopping


FULL = Budget.for_mode("full")
QUICK = Budget.for_mode("quick")


def imdb_data(budget: Budget, glove_dim: int = 50):
    """The reviews, split, tokenised, encoded (cached) and the GloVe-initialised embedding matrix.

    -> data {"train"|"val"|"test": (list of int64 id arrays, labels (n,) int)}, vocab (TextVocab),
       embeddings (len(vocab), glove_dim) float32, the training reviews' texts (for looking at them)
    """
    from labutils.data.glove import embedding_matrix, load_glove
    from labutils.data.imdb import load_imdb
    train_texts, train_labels = load_imdb("train")
    test_texts, test_labels = load_imdb("test")
    split = np.random.default_rng(0).permutation(len(train_texts))
    train_idx, val_idx = split[:budget.n_train], split[len(split) - budget.n_val:]
    test_idx = np.random.default_rng(1).permutation(len(test_texts))[:budget.n_test]
    fit_texts = [train_texts[i] for i in train_idx]
    vocab, fit_ids, other_ids = cached_encoding(
        fit_texts, [train_texts[i] for i in val_idx] + [test_texts[i] for i in test_idx],
        max_len=budget.max_len, min_freq=budget.min_freq, keep="last")
    data = {"train": (fit_ids, train_labels[train_idx]),
            "val": (other_ids[:budget.n_val], train_labels[val_idx]),
            "test": (other_ids[budget.n_val:], test_labels[test_idx])}
    words, vectors = load_glove(glove_dim)
    embeddings, _ = embedding_matrix(list(vocab.itos), words, vectors, np.random.default_rng(0), pad_index=0)
    return data, vocab, embeddings, fit_texts


def pad_batch(seqs):
    """list of 1-D int arrays -> (ids LongTensor (B, T) right-padded with 0, lengths LongTensor (B,))."""
    ids, lengths = pad_ids(seqs)
    return torch.from_numpy(ids), torch.from_numpy(lengths)


def batches(ids, labels, batch_size, rng=None, shuffle=False, device="cpu"):
    """Yield (ids (B, T), lengths (B,), labels (B,) float) tensors from length-bucketed batches."""
    for index in length_buckets([len(x) for x in ids], batch_size, rng, shuffle):
        x, lengths = pad_batch([ids[i] for i in index])
        yield x.to(device), lengths.to(device), torch.as_tensor(labels[index], dtype=torch.float32, device=device)


# ---- training and testing -------------------------------------------------------------------------------

def train_epoch(model, ids, labels, optimizer, batch_size, rng, clip=1.0, device="cpu"):
    """One pass over the data in shuffled length buckets -> mean training loss (notebook 05, exercise 2)."""
    model.train()
    loss_fn = nn.BCEWithLogitsLoss()
    total, n = 0.0, 0
    for x, lengths, y in batches(ids, labels, batch_size, rng, shuffle=True, device=device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, lengths), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total += loss.item() * len(y)
        n += len(y)
    return total / n


@torch.no_grad()
def predict(model, ids, batch_size=256, device="cpu"):
    """-> probabilities of 'positive' (n,), in the order of ids."""
    model.eval()
    out = np.empty(len(ids), dtype=np.float32)
    for index in length_buckets([len(x) for x in ids], batch_size, shuffle=False):
        x, lengths = pad_batch([ids[i] for i in index])
        out[index] = torch.sigmoid(model(x.to(device), lengths.to(device))).cpu().numpy()
    return out


def evaluate(model, ids, labels, batch_size=256, device="cpu"):
    """-> (mean binary cross-entropy, accuracy, probabilities)"""
    p = predict(model, ids, batch_size, device)
    eps = 1e-7
    loss = float(-np.mean(labels * np.log(p + eps) + (1 - labels) * np.log(1 - p + eps)))
    return loss, float(np.mean((p > 0.5) == labels)), p


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """2x2 counts: rows true (neg, pos), columns predicted (neg, pos)."""
    m = np.zeros((2, 2), dtype=np.int64)
    np.add.at(m, (np.asarray(labels, int), np.asarray(predictions, int)), 1)
    return m


def fit(model, train_data, val_data, max_epochs=15, lr=2e-3, batch_size=128, clip=1.0, patience=2, seed=0,
        device=None, progress=False, weight_decay=0.0):
    """Adam over shuffled length buckets, validated after every epoch, early stopping, best weights restored.

    train_data, val_data: (list of id arrays, labels int array). -> History (labutils.nn.loop); one validation
    per epoch, so history.steps // history.every counts epochs.
    """
    device = device or choose_device()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device)
    ids, labels = train_data
    per_epoch = len(length_buckets([len(x) for x in ids], batch_size, shuffle=False))

    def epochs():
        for _ in range(max_epochs):
            yield from batches(ids, labels, batch_size, rng, shuffle=True, device=device)

    bce = nn.BCEWithLogitsLoss()
    optimizer = make_optimizer("adam", [p for p in model.parameters() if p.requires_grad], lr, weight_decay)
    history = train(model, epochs(), lambda m, b: bce(m(b[0], b[1]), b[2]), optimizer, max_epochs * per_epoch,
                    validate=lambda m: evaluate(m, *val_data, device=device)[:2], every=per_epoch,
                    patience=patience, clip=clip, progress=progress)
    return history


def train_and_test(data, embeddings, cell="lstm", layers=1, bidirectional=False, pooling="last", hidden_size=64,
                   dropout=None, max_epochs=15, patience=2, lr=None, batch_size=128, seed=0, freeze_embeddings=False,
                   device=None, tokens=None):
    """Train one SentimentRNN configuration until early stopping (or max_epochs); test its best checkpoint.

    data: imdb_data's dict; embeddings: (vocab, dim) array; lr: Adam's rate, LEARNING_RATE[cell] by default;
    dropout: DROPOUT[cell] by default; tokens: each review is cut to its last ``tokens`` (TOKENS[cell] by default).
    -> History (``.model``) whose ``results`` are the results table's row (``TABLE_COLUMNS``) and test_p, the
       test probabilities (n_test,)
    """
    torch.manual_seed(seed)
    dropout = DROPOUT[cell] if dropout is None else dropout
    tokens = TOKENS[cell] if tokens is None else tokens
    data = {split: ([x[-tokens:] for x in ids], labels) for split, (ids, labels) in data.items()}
    model = SentimentRNN(len(embeddings), embeddings.shape[1], hidden_size, cell, layers, bidirectional, dropout,
                         embeddings=embeddings, freeze_embeddings=freeze_embeddings, pooling=pooling)
    history = fit(model, data["train"], data["val"], max_epochs=max_epochs, lr=lr or LEARNING_RATE[cell],
                  batch_size=batch_size, patience=patience, seed=seed, device=device)
    _, test_acc, test_p = evaluate(model, *data["test"], device=device or choose_device())
    per_epoch = history.every
    row = {"cell": cell, "layers": layers, "bidirectional": bidirectional, "pooling": pooling, "dropout": dropout,
           "tokens": max(len(x) for x in data["train"][0]),
           "test_acc": round(test_acc, 4), "val_acc": round(history.best_metric, 4),
           "epochs": history.steps // per_epoch, "best_epoch": history.best_step // per_epoch,
           "converged": history.converged, "seconds": round(history.seconds[-1], 1)}
    history.results = {**row, "test_p": test_p}
    return history


# The columns of the results table (notebook 05's and benchmarks/imdb_grid.py's), in order
TABLE_COLUMNS = ("cell", "layers", "bidirectional", "pooling", "dropout", "tokens", "test_acc", "val_acc", "epochs",
                 "best_epoch", "converged", "seconds")


def table_row(history) -> dict:
    """train_and_test's History -> its row of the results table (TABLE_COLUMNS)."""
    return {name: history.results[name] for name in TABLE_COLUMNS}


# ---- the full grid, measured once by benchmarks/imdb_grid.py -------------------------------------------------

def read_grid() -> List[dict]:
    """The measured grid (one row per configuration, in the order it ran) -> list of dicts with typed values:
    cell, layers, bidirectional, dropout, tokens, test_acc, val_acc, epochs, best_epoch, converged, seconds,
    commit, machine."""
    from labutils.results import read_measured
    types = {"layers": int, "tokens": int, "dropout": float, "epochs": int, "best_epoch": int, "test_acc": float,
             "val_acc": float, "seconds": float, "bidirectional": lambda v: v == "True",
             "converged": lambda v: v == "True"}
    return read_measured("imdb_grid.csv", types,
                         "python benchmarks/imdb_grid.py --out labutils/assets/measured/imdb_grid.csv (hours)")
