"""Training speed of the char-RNN: a faithful min-char-rnn loop vs labutils' fast path, in one run.

    python benchmarks/charlm_speed.py [--seconds 5]

(a) is written here, as min-char-rnn does it: one-hot column vectors, per-timestep products, dicts of states,
    batch of one. (b) is labutils.charlm.train (index lookups, stacked BPTT, 128 float32 streams).
Both train on Coriolanus; we check first that they compute the same gradients on the same chunk. Ends with
`speedup H=<H>, <threads>: <x>` for H=100 and 250, with one BLAS thread (what training uses) and the library's
default threads, and the fraction of this machine's matrix-multiply speed reached; then H=100 on a busy machine
(two CPU-burning processes), where the default threads collapse.
"""
import argparse
import time

import numpy as np
from busy import cpu_burners
from min_char_rnn import SEQ, min_char_rnn_loss, min_char_rnn_updates
from threadpoolctl import threadpool_limits

from labutils.charlm import TrainSettings, batch_loss_fun, train
from labutils.data import Vocab, load_corpus
from labutils.gradcheck import rel_error
from labutils.rnn import RNNParams

STREAMS = 128


def loop_speed(data, V, H, seconds):
    """Characters per second of min-char-rnn's training loop (loss, clip, Adagrad), float64, one stream."""
    steps = min_char_rnn_updates(data, RNNParams.init(V, H, V, np.random.default_rng(0)))
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(steps)
        n += 1
    return n * SEQ / (time.perf_counter() - start)


def fast_speed(data, V, H, seconds, threads=1):
    """Characters per second of labutils.charlm.train (128 float32 streams) with ``threads`` BLAS threads, over
    about ``seconds``: training is bounded by updates, so the warm-up's speed sets how many."""
    settings = TrainSettings(hidden_size=H, batch_size=STREAMS, dtype=np.float32, threads=threads)
    warm = train(data, V, settings, 20, progress=False)
    updates = max(20, int(seconds * warm.chars_per_second / (settings.seq_length * STREAMS)))
    return train(data, V, settings, updates, progress=False).chars_per_second


def same_gradients(data, V, H):
    rng = np.random.default_rng(1)
    p = RNNParams.init(V, H, V, rng, scale=0.1)
    h = rng.standard_normal((H, 1)) * 0.3
    inputs, targets = data[:SEQ], data[1:SEQ + 1]
    loss_a, grads_a, _ = min_char_rnn_loss(inputs, targets, h, p.Wxh, p.Whh, p.Why, p.bh, p.by)
    loss_b, grads_b, _ = batch_loss_fun(p, inputs[:, None], targets[:, None], h)
    worst = max(rel_error(a, b) for a, (_, b) in zip(grads_a, grads_b.items()))
    return abs(loss_a - loss_b), worst


def gemm_bound(V, H, threads, seconds=1.0):
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

    with threadpool_limits(threads):
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
        print(f"H={H}: same gradients (loss diff {dloss:.1e}, worst relative gradient error {dgrad:.1e})")
        loop = loop_speed(data, V, H, args.seconds)
        print(f"  min-char-rnn loop: {loop:12,.0f} chars/s")
        for threads in (1, None):
            fast = fast_speed(data, V, H, args.seconds, threads)
            bound, recurrent, stacked = gemm_bound(V, H, threads)
            name = "1 BLAS thread" if threads == 1 else "default threads"
            speedups[H, name] = fast / loop
            print(f"  labutils fast, {name:15s}: {fast:10,.0f} chars/s ({fast / loop:.1f}x); matrix-multiply bound "
                  f"{bound:,.0f} chars/s (GEMM {recurrent / 1e9:.1f} GFLOP/s at (B,H)x(H,H), {stacked / 1e9:.1f} at "
                  f"(TB,H)x(H,V)): reached {fast / bound:.0%}")
    print("\nbusy machine (two CPU-burning processes), H=100:")
    with cpu_burners(2):
        loop = loop_speed(data, V, 100, args.seconds)
        print(f"  min-char-rnn loop: {loop:12,.0f} chars/s")
        for threads in (1, None):
            fast = fast_speed(data, V, 100, args.seconds, threads)
            name = "1 BLAS thread" if threads == 1 else "default threads"
            speedups["100 busy", name] = fast / loop
            print(f"  labutils fast, {name:15s}: {fast:10,.0f} chars/s ({fast / loop:.1f}x)")
    for (H, name), x in speedups.items():
        print(f"speedup H={H}, {name}: {x:.1f}")

if __name__ == "__main__":
    main()
