"""min-char-rnn's training loop, as written there: the baseline both benchmarks compare labutils with.

One-hot column vectors, one matrix-vector product per step, dicts of states, one stream, float64, clipping at
5 and Adagrad at 0.1; the BLAS library's default threads, as a student runs it.
"""
import numpy as np

SEQ = 25


def min_char_rnn_loss(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """min-char-rnn's lossFun (one-hot inputs, one step at a time) -> loss, [dWxh, dWhh, dWhy, dbh, dby], h."""
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((Wxh.shape[1], 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t] - np.max(ys[t])) / np.sum(np.exp(ys[t] - np.max(ys[t])))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return loss, [dWxh, dWhh, dWhy, dbh, dby], hs[len(inputs) - 1]


def min_char_rnn_updates(data, params):
    """min-char-rnn's main loop over ``data`` (ints), endless: each next() is one chunk and one Adagrad step.

    params: labutils RNNParams (float64), changed in place, so it can be scored between steps. Yields the loss.
    """
    weights = [params.Wxh, params.Whh, params.Why, params.bh, params.by]
    mems = [np.zeros_like(w) for w in weights]
    hprev, p = np.zeros((params.hidden_size, 1)), 0
    while True:
        if p + SEQ + 1 >= len(data):
            hprev, p = np.zeros((params.hidden_size, 1)), 0
        inputs, targets = data[p:p + SEQ], data[p + 1:p + SEQ + 1]
        loss, grads, hprev = min_char_rnn_loss(inputs, targets, hprev, *weights)
        for param, dparam, mem in zip(weights, grads, mems):
            np.clip(dparam, -5, 5, out=dparam)
            mem += dparam * dparam
            param += -0.1 * dparam / np.sqrt(mem + 1e-8)
        p += SEQ
        yield loss
