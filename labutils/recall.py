"""Notebook 01's last experiment: a small RNN trained with the student's own BPTT on a memory task.

Delayed recall: random symbols go in, and at step t the target is the symbol of step t - delay, so the state
must carry each symbol for ``delay`` steps. Only BPTT's carry (dh_next) teaches the recurrence to do that: the
same loop with ``rnn.rnn_loss_without_carry`` stays near chance (log V per symbol, less what the first
``delay`` steps, whose target is their own input, give away).
"""
from typing import Callable

import numpy as np

from labutils.charlm import AdamState, adam_update
from labutils.rnn import RNNParams


def delayed_recall(rng: np.random.Generator, T: int, N: int, vocab_size: int, delay: int):
    """-> xs (T, vocab_size, N) one-hot random symbols, targets (T, N): the symbol of step t - delay (for
    t < delay, the step's own symbol)."""
    symbols = rng.integers(0, vocab_size, (T, N))
    xs = np.eye(vocab_size)[symbols].transpose(0, 2, 1)
    return xs, np.concatenate([symbols[:delay], symbols[:-delay]])


def train_recall(loss_fn: Callable, steps: int, delay: int = 5, hidden_size: int = 16, vocab_size: int = 4,
                 T: int = 20, N: int = 32, learning_rate: float = 0.01, seed: int = 0) -> np.ndarray:
    """Train an RNN on delayed recall with ``loss_fn(params, xs, targets, h0) -> (loss, grads, h_last, dh0)``
    (rnn_loss's signature: notebook 01's my_rnn_loss), Adam, a fresh batch per update.

    -> (steps,) the mean cross-entropy per symbol (nats) of each update's batch, before the update
    """
    rng = np.random.default_rng(seed)
    params = RNNParams.init(vocab_size, hidden_size, vocab_size, rng, scale=0.3)
    state = AdamState.like(params)
    losses = np.empty(steps)
    for step in range(steps):
        xs, targets = delayed_recall(rng, T, N, vocab_size, delay)
        loss, grads, _, _ = loss_fn(params, xs, targets, np.zeros((hidden_size, N)))
        losses[step] = loss / (T * N)
        adam_update(params, grads, state, learning_rate=learning_rate)
    return losses
