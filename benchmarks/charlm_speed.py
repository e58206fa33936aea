"""Training speed of the char-RNN: a faithful min-char-rnn loop vs labutils' fast path, in one run.

    python benchmarks/charlm_speed.py [--seconds 5]

(a) is written here, as min-char-rnn does it: one-hot column vectors, per-timestep products, dicts of states,
    batch of one. (b) is labutils.charlm.train (index lookups, stacked BPTT, 128 float32 streams).
Both train on Coriolanus; we check first that they compute the same gradients on the same chunk. Ends with
`speedup H=100: <x>` and `speedup H=250: <x>`, and the fraction of this machine's matrix-multiply speed reached.
"""
import argparse
import time

import numpy as np

from labutils.charlm import batch_loss_fun, train
from labutils.data import Vocab, load_corpus
from labutils.gradcheck import rel_error
from labutils.rnn import RNNParams

SEQ, STREAMS = 25, 128


def min_char_rnn_loss(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """min-char-rnn's lossFun, as written there (one-hot inputs, one step at a time)."""
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


def loop_speed(data, V, H, seconds):
    """Characters per second of min-char-rnn's training loop (loss, clip, Adagrad), float64, one stream."""
    rng = np.random.default_rng(0)
    p = RNNParams.init(V, H, V, rng)
    params = [p.Wxh, p.Whh, p.Why, p.bh, p.by]
    mems = [np.zeros_like(x) for x in params]
    hprev, pos, n = np.zeros((H, 1)), 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if pos + SEQ + 1 >= len(data):
            hprev, pos = np.zeros((H, 1)), 0
        inputs, targets = data[pos:pos + SEQ], data[pos + 1:pos + SEQ + 1]
        _, grads, hprev = min_char_rnn_loss(inputs, targets, hprev, *params)
        for param, dparam, mem in zip(params, grads, mems):
            np.clip(dparam, -5, 5, out=dparam)
            mem += dparam * dparam
            param += -0.1 * dparam / np.sqrt(mem + 1e-8)
        pos += SEQ
        n += 1
    return n * SEQ / (time.perf_counter() - start)


def fast_speed(data, V, H, seconds):
    train(data, V, hidden_size=H, batch_size=STREAMS, iterations=20, dtype=np.float32, progress=False)  # warm-up
    result = train(data, V, hidden_size=H, batch_size=STREAMS, time_budget=seconds, dtype=np.float32, progress=False)
    return result.chars_per_second


def same_gradients(data, V, H):
    rng = np.random.default_rng(1)
    p = RNNParams.init(V, H, V, rng, scale=0.1)
    h = rng.standard_normal((H, 1)) * 0.3
    inputs, targets = data[:SEQ], data[1:SEQ + 1]
    loss_a, grads_a, _ = min_char_rnn_loss(inputs, targets, h, p.Wxh, p.Whh, p.Why, p.bh, p.by)
    loss_b, grads_b, _ = batch_loss_fun(p, inputs[:, None], targets[:, None], h)
    worst = max(rel_error(a, b) for a, (_, b) in zip(grads_a, grads_b.items()))
    return abs(loss_a - loss_b), worst


def gemm_bound(V, H, seconds=1.0):
    """Characters per second if the fast path ran only its matrix products, at this machine's measured speed.

    Per character: forward h @ Whh.T (2H^2) and the output layer (2HV); backward dL/dh from the outputs (2HV),
    the recurrence da @ Whh (2H^2), and the weight gradients dWhh (2H^2), dWhy (2HV), dWxh as a one-hot
    product (2HV): 6H^2 + 8HV FLOPs.
    """
    rng = np.random.default_rng(0)
    h, W = rng.standard_normal((STREAMS, H), dtype=np.float32), rng.standard_normal((H, H), dtype=np.float32)
    S, Wy = rng.standard_normal((SEQ * STREAMS, H), dtype=np.float32), rng.standard_normal((H, V), dtype=np.float32)

    def rate(fn, flops):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn()
            n += 1
        return n * flops / (time.perf_counter() - start)

    recurrent = rate(lambda: h @ W, 2 * STREAMS * H * H)          # the sequential (B, H) x (H, H) products
    stacked = rate(lambda: S @ Wy, 2 * SEQ * STREAMS * H * V)      # the stacked (T*B, H) x (H, V) products
    seconds_per_char = 6 * H * H / recurrent + 8 * H * V / stacked
    return 1.0 / seconds_per_char, recurrent, stacked


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    args = parser.parse_args()
    text = load_corpus(("coriolanus",))
    vocab = Vocab.from_text(text)
    data = vocab.encode(text)
    V = len(vocab)
    print(f"corpus: Coriolanus, {len(data):,} characters, vocabulary {V}; fast path: {STREAMS} streams, float32")
    speedups = {}
    for H in (100, 250):
        dloss, dgrad = same_gradients(data, V, H)
        assert dloss < 1e-8 and dgrad < 1e-8, f"H={H}: the two paths disagree (loss {dloss:.1e}, grads {dgrad:.1e})"
        loop = loop_speed(data, V, H, args.seconds)
        fast = fast_speed(data, V, H, args.seconds)
        bound, recurrent, stacked = gemm_bound(V, H)
        speedups[H] = fast / loop
        print(f"H={H}: same gradients (loss diff {dloss:.1e}, worst relative gradient error {dgrad:.1e})")
        print(f"  min-char-rnn loop: {loop:12,.0f} chars/s")
        print(f"  labutils fast:     {fast:12,.0f} chars/s")
        print(f"  matrix-multiply bound: {bound:,.0f} chars/s (GEMM {recurrent / 1e9:.1f} GFLOP/s at (B,H)x(H,H), "
              f"{stacked / 1e9:.1f} at (TB,H)x(H,V)); reached {fast / bound:.0%}")
    for H, x in speedups.items():
        print(f"speedup H={H}: {x:.1f}")


if __name__ == "__main__":
    main()
