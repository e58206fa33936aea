"""Where the fast path's time goes: labutils.charlm.batch_loss_fun cut into its phases, each timed alone.

    python benchmarks/charlm_profile.py [--hidden 250] [--streams 128] [--threads 1]

The phases are batch_loss_fun's own statements in the same order on the same shapes (float32, T=25), timed
with perf_counter over many repetitions; their sum is compared with one whole call, and each phase with its
matrix-multiply FLOPs at this machine's measured GEMM speed. --default-malloc shows what glibc's page faults
cost (training keeps freed memory: charlm.keep_freed_memory).
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from labutils.charlm import AdamState, adam_update, batch_loss_fun, keep_freed_memory
from labutils.rnn import RNNParams

T, V = 25, 65


def timed(fn, seconds=1.0):
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return (time.perf_counter() - start) / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=250)
    parser.add_argument("--streams", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc as it is (training calls charlm.keep_freed_memory())")
    args = parser.parse_args()
    if not args.default_malloc:
        keep_freed_memory()
    H, B = args.hidden, args.streams
    rng = np.random.default_rng(0)
    p = RNNParams.init(V, H, V, rng, scale=0.1, dtype=np.float32)
    inputs, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    h0 = np.zeros((H, B), np.float32)
    hs = np.empty((T + 1, B, H), np.float32)
    x_part = (p.Wxh.T + p.bh.T)[inputs]
    WhhT = p.Whh.T

    def forward():
        for t in range(T):
            np.matmul(hs[t], WhhT, out=hs[t + 1])
            hs[t + 1] += x_part[t]
            np.tanh(hs[t + 1], out=hs[t + 1])

    forward()
    states = hs[1:].reshape(T * B, H)

    def output():
        logits = states @ p.Why.T + p.by.T
        logits -= logits.max(axis=1, keepdims=True)
        dy = np.exp(logits)
        dy /= dy.sum(axis=1, keepdims=True)
        return dy

    dy = output()
    rows, cols = np.arange(T * B), targets.reshape(-1)

    def loss_and_dlogits():
        d = dy.copy()
        loss = -np.log(d[rows, cols]).sum() / B
        d[rows, cols] -= 1
        d /= B
        return loss, d

    da = 1 - hs[1:] * hs[1:]
    dh_out = (dy @ p.Why).reshape(T, B, H)

    def backward():                      # on copies: the loop works in place
        dh_next, d, out = np.zeros((B, H), np.float32), da.copy(), dh_out.copy()
        for t in reversed(range(T)):
            out[t] += dh_next
            d[t] *= out[t]
            np.matmul(d[t], p.Whh, out=dh_next)

    da_flat = da.reshape(T * B, H)

    def weight_grads():
        one_hot = np.zeros((T * B, V), np.float32)
        one_hot[np.arange(T * B), inputs.reshape(-1)] = 1
        return (da_flat.T @ one_hot, da_flat.T @ hs[:-1].reshape(T * B, H), dy.T @ states, da_flat.sum(axis=0),
                dy.sum(axis=0))

    grads = p.map(np.zeros_like)
    state = AdamState.like(p)
    phases = {"lookup (x_part)": lambda: (p.Wxh.T + p.bh.T)[inputs],
              "forward recurrence (T steps)": forward, "output layer + softmax": output,
              "loss and dL/dlogits": loss_and_dlogits, "dL/dh from outputs": lambda: dy @ p.Why,
              "tanh derivative": lambda: 1 - hs[1:] * hs[1:],
              "backward recurrence (T steps)": backward, "weight gradients": weight_grads,
              "gradients packed (RNNParams)": lambda: RNNParams(Wxh=p.Wxh, Whh=p.Whh, Why=p.Why, bh=p.bh, by=p.by),
              "Adam update": lambda: adam_update(p, grads, state, 0.0)}
    with threadpool_limits(args.threads):
        whole = timed(lambda: batch_loss_fun(p, inputs, targets, h0.copy()))
        parts = {name: timed(fn) for name, fn in phases.items()}
        gemm = timed(lambda: states @ p.Why.T, 0.5)
        rate = 2 * T * B * H * V / gemm
    flops = {"forward recurrence (T steps)": 2 * T * B * H * H, "output layer + softmax": 2 * T * B * H * V,
             "dL/dh from outputs": 2 * T * B * H * V, "backward recurrence (T steps)": 2 * T * B * H * H,
             "weight gradients": 2 * T * B * H * (V + H + V)}
    malloc = "glibc's default malloc" if args.default_malloc else "freed memory kept"
    print(f"H={H}, B={B}, T={T}, {args.threads} BLAS thread(s), {malloc}; one batch_loss_fun call: "
          f"{whole * 1e3:.2f} ms ({T * B / whole:,.0f} chars/s); GEMM at {rate / 1e9:.1f} GFLOP/s")
    for name, sec in parts.items():
        bound = flops.get(name, 0) / rate
        print(f"  {name:32s} {sec * 1e3:7.2f} ms  {sec / whole:5.0%}   matrix-multiply share "
              f"{bound / sec if bound else 0:5.0%}")
    print(f"  {'sum of phases':32s} {sum(parts.values()) * 1e3:7.2f} ms (the Adam update is not part of the call)")


if __name__ == "__main__":
    main()
