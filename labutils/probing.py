"""Probing a trained char-RNN: encode a text into a state, decode a continuation, and find which hidden
units make a character (':') predict a set of followers (space or newline), then test it by ablation.

Layout as in ``labutils.rnn``: h: (hidden_size, 1); batches of contexts are rows: H_after (n, hidden_size).
"""
from typing import List

import numpy as np

from labutils.rnn import RNNParams
from labutils.sampling import sample


def encode(params, h0, ixs):
    """Run the RNN over a priming text (indices) without sampling -> the final state h: (hidden_size, 1)."""
    h = np.asarray(h0, dtype=np.float64).reshape(-1, 1)
    for ix in ixs:
        h = np.tanh(params.Wxh[:, [ix]] + params.Whh @ h + params.bh)
    return h


def decode(params, h, seed_ix, n, temperature, rng):
    """Continue from state h, feeding seed_ix first -> n sampled indices."""
    ixs, _ = sample(params, h, seed_ix, n, temperature, rng)
    return ixs


def step_rows(params: RNNParams, H_prev: np.ndarray, ix: int, units_off=None, wxh_off=None) -> np.ndarray:
    """One step from many states at once, all reading input ix, with optional ablations.

    H_prev: (n, hidden_size) -> H: (n, hidden_size). units_off: indices of units forced to 0 after the
    step; wxh_off: indices j whose input weight Wxh[j, ix] is set to 0 for this step.
    """
    x_col = params.Wxh[:, ix].copy()
    if wxh_off is not None:
        x_col[list(wxh_off)] = 0.0
    H = np.tanh(H_prev @ params.Whh.T + x_col + params.bh.ravel())
    if units_off is not None:
        H[:, list(units_off)] = 0.0
    return H


def probabilities(params: RNNParams, H: np.ndarray) -> np.ndarray:
    """Next-character probabilities for states H: (n, hidden_size) -> (n, vocab_size)."""
    logits = H @ params.Why.T + params.by.ravel()
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def mass(params: RNNParams, H: np.ndarray, targets) -> np.ndarray:
    """P(next character in targets) for each state: (n,)."""
    return probabilities(params, H)[:, list(targets)].sum(axis=1)


def unit_attribution(params: RNNParams, H: np.ndarray, targets) -> np.ndarray:
    """Gradient x activation attribution of log P(targets) to each hidden unit, averaged over states.

    For log P(S) with P(S) = sum_{k in S} p_k, the gradient w.r.t. the logits is q - p, where q is p
    restricted to S and renormalised; through the output layer, d log P(S) / dh = Why^T (q - p).
    H: (n, hidden_size) -> (hidden_size,) mean of h_j * d log P(S) / dh_j. Positive: unit j pushes towards S.
    """
    p = probabilities(params, H)
    q = np.zeros_like(p)
    targets = list(targets)
    q[:, targets] = p[:, targets] / p[:, targets].sum(axis=1, keepdims=True)
    grad_h = (q - p) @ params.Why
    return (H * grad_h).mean(axis=0)


def ablation_curve(params: RNNParams, H_prev: np.ndarray, ix: int, targets, ranked_units, ks,
                   rng: np.random.Generator, random_draws: int = 100):
    """P(targets) after zeroing the top-k ranked units vs k random units, for each k.

    -> dict with "k", "top" (mean P after ablating ranked_units[:k]) and "random_mean", "random_std"
       (over ``random_draws`` random sets of k units; NaN when random_draws is 0), each an array over ks.
    """
    hidden = params.hidden_size
    top, rand_mean, rand_std = [], [], []
    for k in ks:
        top.append(mass(params, step_rows(params, H_prev, ix, units_off=ranked_units[:k]), targets).mean())
        draws = [mass(params, step_rows(params, H_prev, ix, units_off=rng.choice(hidden, k, replace=False)),
                      targets).mean() for _ in range(random_draws)] if k else [top[-1]]
        rand_mean.append(np.mean(draws) if draws else np.nan)     # no draws asked: no baseline, and no warning
        rand_std.append(np.std(draws) if draws else np.nan)
    return {"k": np.asarray(ks), "top": np.array(top), "random_mean": np.array(rand_mean),
            "random_std": np.array(rand_std)}


def mean_pairwise_cosine(X: np.ndarray) -> float:
    """Mean cosine similarity between the distinct rows of X: (n, d) -> float."""
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = U @ U.T
    n = len(X)
    return float((S.sum() - n) / (n * (n - 1)))


def greedy_units(params: RNNParams, H: np.ndarray, targets, k: int) -> List[int]:
    """Choose k units one at a time, each the one whose zeroing lowers the mean P(targets) the most.

    Zeroing unit j only removes h_j * Why[:, j] from the logits, so all candidates are scored at once.
    H: (n, hidden_size) states to select on -> list of k unit indices, in the order chosen.
    """
    H = np.asarray(H, dtype=np.float32)
    WhyT = params.Why.T.astype(np.float32)                       # (hidden_size, vocab_size)
    logits = H @ WhyT + params.by.ravel().astype(np.float32)      # (n, vocab_size)
    targets, chosen = list(targets), []
    for _ in range(k):
        cand = logits[:, None, :] - H[:, :, None] * WhyT[None]    # (n, hidden_size, vocab_size)
        cand -= cand.max(axis=2, keepdims=True)
        e = np.exp(cand)
        score = (e[..., targets].sum(axis=2) / e.sum(axis=2)).mean(axis=0)
        score[chosen] = np.inf
        j = int(np.argmin(score))
        chosen.append(j)
        logits -= H[:, [j]] * WhyT[j]
        H = H.copy()
        H[:, j] = 0.0
    return chosen
