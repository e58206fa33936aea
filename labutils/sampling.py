"""Sampling from a character RNN, and measures of what comes out (entropy, real words, repetition).

Layout as in ``labutils.rnn``: one sequence, h: (hidden_size, 1), logits: (vocab_size, 1).
"""
import re
from typing import List, Set

import numpy as np

from labutils.charlm import one_hot


def softmax_with_temperature(logits: np.ndarray, temperature: float = 1.0, axis: int = 0) -> np.ndarray:
    """softmax(logits / temperature), max-subtracted. temperature must be > 0 (use greedy for the limit 0).

    Low temperature sharpens the distribution towards the argmax, high temperature flattens it towards uniform.
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}; "
                         "for temperature -> 0 use greedy decoding (greedy=True)")
    logits = np.asarray(logits, dtype=np.float64)
    # subtract the max before dividing: a tiny temperature cannot overflow a difference that is <= 0
    with np.errstate(over="ignore"):   # -huge / tiny -> -inf -> probability 0, which is right
        scaled = (logits - np.max(logits, axis=axis, keepdims=True)) / temperature
    e = np.exp(scaled)
    return e / np.sum(e, axis=axis, keepdims=True)


def entropy(p: np.ndarray, axis: int = 0) -> np.ndarray:
    """Entropy in nats of distributions along ``axis`` (0 log 0 = 0)."""
    p = np.asarray(p, dtype=np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=axis)


def sample(params, h, seed_ix, n, temperature=1.0, rng=None, greedy=False):
    """Generate n character indices, feeding each one back in, starting from state h and input seed_ix.

    params: RNNParams, h: (hidden_size, 1), rng: np.random.Generator (required unless greedy).
    -> ixs: list of n ints, h: the final state (hidden_size, 1)
    """
    if not greedy:
        if rng is None:
            raise ValueError("pass rng=np.random.default_rng(seed): sampling needs an explicit generator")
        softmax_with_temperature(np.zeros(1), temperature)   # validate before generating anything
    ixs, ix = [], seed_ix
    for _ in range(n):
        h = np.tanh(params.Wxh @ one_hot(ix, params.input_size) + params.Whh @ h + params.bh)
        logits = (params.Why @ h + params.by).ravel()
        if greedy:
            ix = int(np.argmax(logits))
        else:
            p = softmax_with_temperature(logits, temperature)
            ix = int(rng.choice(len(p), p=p))
        ixs.append(ix)
    return ixs, h


def words(text: str) -> List[str]:
    return re.findall(r"[A-Za-z']+", text)


def real_word_fraction(text: str, lexicon: Set[str]) -> float:
    """Fraction of the words in ``text`` that occur in ``lexicon`` (a set of lower-case words); 0 if none."""
    found = [w.lower().strip("'") for w in words(text)]
    found = [w for w in found if w]
    return sum(w in lexicon for w in found) / len(found) if found else 0.0


def repeated_ngram_rate(text: str, n: int = 8) -> float:
    """1 - distinct n-grams / n-grams: 0 for text that never repeats itself, near 1 for a loop."""
    grams = [text[i:i + n] for i in range(len(text) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0
