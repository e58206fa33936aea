"""Notebook 07: a character-level LSTM language model in PyTorch.

Batch-first: inputs and targets (B, T) character indices, logits (B, T, vocab_size). Training uses truncated
BPTT over B contiguous streams of the corpus, the state carried (and detached) from chunk to chunk.
"""
import math
from typing import Iterator, Optional, Tuple

import numpy as np
import torch
from torch import nn

from labutils import charlm
from labutils.data import load_corpus
from labutils.data.shakespeare import Vocab
from labutils.nn.loop import make_optimizer, train
from labutils.rnn import RNNParams
from labutils.sampling import softmax_with_temperature

# Notebook 07's text: the plays it trains on, the play held out for both its models, the validation characters
PLAYS = ("coriolanus", "antony-and-cleopatra", "titus-andronicus", "hamlet", "macbeth", "othello")
HELDOUT_PLAY = "julius-caesar"
VAL_CHARS = 50_000


def play_data(plays=PLAYS, heldout_play=HELDOUT_PLAY, val_chars=VAL_CHARS):
    """Notebook 07's data -> vocab (the plays' characters, sorted), train_ids, val_ids (the plays' last val_chars
    characters, never trained on), heldout_ids (the held-out play in that vocabulary, other characters dropped)."""
    text = load_corpus(plays)
    vocab = Vocab.from_text(text)
    data = vocab.encode(text)
    heldout, _ = vocab.restrict(load_corpus((heldout_play,)))
    return vocab, data[:-val_chars], data[-val_chars:], vocab.encode(heldout)


class CharLSTM(nn.Module):
    """Embedding -> LSTM (layers) -> linear layer over the vocabulary."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden_size: int = 256, layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, embed_dim=embed_dim, hidden_size=hidden_size, layers=layers,
                           dropout=dropout)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        """x: (B, T) longs -> logits (B, T, vocab_size), state ((layers, B, H), (layers, B, H))"""
        out, state = self.lstm(self.embedding(x), state)
        return self.head(out), state


def stream_chunks(data: np.ndarray, batch_size: int, seq_length: int) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) chunks (B, T) walking B contiguous streams of data once, in order."""
    data = np.asarray(data)
    segment = (len(data) - 1) // batch_size
    if segment < seq_length:
        raise ValueError(f"{len(data)} characters are too few for {batch_size} streams of {seq_length}")
    starts = np.arange(batch_size) * segment
    for p in range(0, segment - seq_length + 1, seq_length):
        idx = starts[:, None] + p + np.arange(seq_length)[None, :]
        yield torch.from_numpy(data[idx]), torch.from_numpy(data[idx + 1])


def train_charlstm(model, data, steps, batch_size=64, seq_length=100, lr=3e-3, clip=1.0, seed=0, every=50,
                   val_data=None, sample_every=None, callback=None, patience=None):
    """Adam with gradient clipping over stream chunks (epochs repeat) for ``steps`` steps -> History.

    The state is carried from chunk to chunk and detached (truncated BPTT), and reset at each pass over the data.
    Every ``every`` steps the History records the mean training loss (nats/char) and, with val_data (ids the
    model does not train on), the validation cross-entropy; the weights with the lowest one are kept. Every
    ``sample_every`` steps ``callback(step, model)`` runs and a string it returns is kept in ``History.samples``.
    patience: stop after this many validations without a lower validation loss (early stopping; needs val_data).
    """
    torch.manual_seed(seed)
    state, samples = [None], []

    def chunks():
        while True:
            for i, (x, y) in enumerate(stream_chunks(data, batch_size, seq_length)):
                yield x, y, i == 0

    def loss_fn(m, batch):
        x, y, first = batch
        logits, new_state = m(x, None if first else state[0])
        state[0] = tuple(s.detach() for s in new_state)    # truncated BPTT: no gradient across chunks
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def sample(step, m):
        if callback is not None and sample_every and step % sample_every == 0:
            was_training = m.training
            out = callback(step, m)
            m.train(was_training)
            if isinstance(out, str):
                samples.append((step, out))

    validate = (lambda m: (cross_entropy(m, val_data), math.nan)) if val_data is not None else None
    history = train(model, chunks(), loss_fn, make_optimizer("adam", model.parameters(), lr), steps, validate=validate,
                    every=every, patience=patience, clip=clip, after_step=sample)
    history.samples = samples
    return history


@torch.no_grad()
def generate(model: "CharLSTM", vocab: Vocab, prompt: str, n: int, temperature: float = 1.0,
             rng: Optional[np.random.Generator] = None, greedy: bool = False) -> str:
    """Prime with ``prompt`` (str), then generate n characters -> the generated text (without the prompt)."""
    if not prompt:
        raise ValueError("give a prompt of at least one character (e.g. '\\n')")
    if not greedy and rng is None:
        raise ValueError("pass rng=np.random.default_rng(seed): sampling needs an explicit generator")
    model.eval()
    ids = torch.from_numpy(vocab.encode(prompt))[None, :]
    logits, state = model(ids)
    out = []
    for _ in range(n):
        last = logits[0, -1].double().numpy()
        if greedy:
            ix = int(np.argmax(last))
        else:
            ix = int(rng.choice(len(last), p=softmax_with_temperature(last, temperature)))
        out.append(ix)
        logits, state = model(torch.tensor([[ix]]), state)
    return vocab.decode(out)


@torch.no_grad()
def cross_entropy(model: "CharLSTM | RNNParams", data: np.ndarray, chunk: int = 2000) -> float:
    """Mean per-character cross-entropy (nats) of data[1:] given data[:-1], one stream from a zero state.

    model: a CharLSTM, or notebook 02's NumPy RNN (its RNNParams, measured by ``labutils.charlm.cross_entropy``),
    so one function compares the two.
    """
    if isinstance(model, RNNParams):
        return charlm.cross_entropy(model, data)
    model.eval()
    data = torch.from_numpy(np.asarray(data))
    total, state = 0.0, None
    for p in range(0, len(data) - 1, chunk):
        x, y = data[p:p + chunk][None, :], data[p + 1:p + chunk + 1][None, :]
        x = x[:, : y.shape[1]]
        logits, state = model(x, state)
        total += nn.functional.cross_entropy(logits[0], y[0], reduction="sum").item()
    return total / (len(data) - 1)
