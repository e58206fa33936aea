"""Learning per second: held-out cross-entropy against wall-clock seconds, min-char-rnn's loop vs labutils.

    python benchmarks/charlm_learning.py [--until 180] [--conditions quiet,loaded]

Both train from the same initial weights on Coriolanus (H=100, chunks of 25) and are scored, at each checkpoint
of training time, by the per-character cross-entropy on Julius Caesar (a play neither trains on); the clock
stops while a model is scored. "loaded" starts two CPU-burning processes first (this benchmark stops them), as
a browser or a shared Colab machine does. Prints, per condition, the curve and the margin (min-char-rnn's
cross-entropy minus labutils'; positive: labutils is ahead) and ends with the margins at 30, 60 and 180 s.
Writes build/bench/charlm_learning.csv and .png.
"""
import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from busy import cpu_burners
from measured import commit
from min_char_rnn import min_char_rnn_updates
from threadpoolctl import threadpool_limits

from labutils import charlm
from labutils.atomic import write_text
from labutils.data import Vocab, load_corpus
from labutils.rnn import RNNParams

HIDDEN = 100
CHECKPOINTS = (10, 20, 30, 45, 60, 90, 120, 180)
REPORTED = (30, 60, 180)
OUT = Path(__file__).resolve().parents[1] / "build" / "bench"


def curve(steps, params, heldout, checkpoints):
    """Advance ``steps`` until each checkpoint (seconds of training); score the model there.

    -> list of (seconds, updates, held-out nats per character); scoring time is not training time.
    """
    trained, n, points = 0.0, 0, []
    for mark in checkpoints:
        start = time.perf_counter()
        while trained + time.perf_counter() - start < mark:
            next(steps)
            n += 1
        trained += time.perf_counter() - start
        points.append((mark, n, charlm.cross_entropy(params.map(lambda a: a.astype(np.float64)), heldout)))
    return points


def run_min_char_rnn(data, V, heldout, checkpoints):
    params = RNNParams.init(V, HIDDEN, V, np.random.default_rng(0))
    return curve(min_char_rnn_updates(data, params), params, heldout, checkpoints)


def run_labutils(data, V, heldout, checkpoints, streams, optimizer, learning_rate, weight_decay, lr_halflife, threads):
    params = RNNParams.init(V, HIDDEN, V, np.random.default_rng(0), dtype=np.float32)
    state = charlm.optimizer_named(optimizer)[1](params)
    steps = charlm.updates(data, params, state, batch_size=streams, optimizer=optimizer, learning_rate=learning_rate,
                           weight_decay=weight_decay, lr_halflife=lr_halflife)
    with threadpool_limits(threads):
        return curve(steps, params, heldout, checkpoints)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", type=float, default=CHECKPOINTS[-1], help="last checkpoint, seconds")
    parser.add_argument("--conditions", default="quiet,loaded")
    parser.add_argument("--streams", type=int, default=charlm.LEARNING_SETTINGS.batch_size)
    parser.add_argument("--optimizer", default=charlm.LEARNING_SETTINGS.optimizer)
    parser.add_argument("--lr", type=float, default=charlm.LEARNING_SETTINGS.learning_rate)
    parser.add_argument("--weight-decay", type=float, default=charlm.LEARNING_SETTINGS.weight_decay)
    parser.add_argument("--lr-halflife", type=float, default=charlm.LEARNING_SETTINGS.lr_halflife)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for labutils (0: the library default)")
    args = parser.parse_args()
    checkpoints = [c for c in CHECKPOINTS if c < args.until] + [args.until]
    text = load_corpus(("coriolanus",))
    vocab = Vocab.from_text(text)
    data, V = vocab.encode(text), len(vocab)
    heldout = vocab.encode(vocab.restrict(load_corpus(("julius-caesar",)))[0])
    print(f"train: Coriolanus ({len(data):,} characters); score: Julius Caesar ({len(heldout):,}); H={HIDDEN}")
    print(f"min-char-rnn: 1 stream, float64, Adagrad 0.1; labutils: {args.streams} streams, float32, "
          f"{args.optimizer} {args.lr} (weight decay {args.weight_decay}, halving every {args.lr_halflife:.0f} "
          "updates), "
          f"{args.threads or 'default'} BLAS thread(s)")
    rows, margins = [], {}
    machine = f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
    provenance = {"commit": commit(), "machine": machine}
    for condition in args.conditions.split(","):
        with cpu_burners(2 if condition == "loaded" else 0):
            base = run_min_char_rnn(data, V, heldout, checkpoints)
            ours = run_labutils(data, V, heldout, checkpoints, args.streams, args.optimizer, args.lr, args.weight_decay,
                                args.lr_halflife, args.threads or None)
        print(f"\n{condition}: seconds | min-char-rnn updates, chars, CE | labutils updates, chars, CE | margin")
        for (t, n_a, ce_a), (_, n_b, ce_b) in zip(base, ours):
            rows.append({"condition": condition, "seconds": t, "min_char_rnn_updates": n_a,
                         "min_char_rnn_ce": round(ce_a, 4), "labutils_updates": n_b, "labutils_ce": round(ce_b, 4),
                         "margin": round(ce_a - ce_b, 4), **provenance})
            margins[condition, t] = ce_a - ce_b
            print(f"  {t:5.0f} | {n_a:7,d} {n_a * 25 / 1e6:6.2f} M {ce_a:.3f} | "
                  f"{n_b:7,d} {n_b * 25 * args.streams / 1e6:6.2f} M {ce_b:.3f} | {ce_a - ce_b:+.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [",".join(rows[0])] + [",".join(f'"{v}"' if "," in str(v) else str(v) for v in r.values()) for r in rows]
    write_text(OUT / "charlm_learning.csv", "\n".join(lines) + "\n")
    plot(rows, OUT / "charlm_learning.png")
    print(f"\nwrote {OUT / 'charlm_learning.csv'} and {OUT / 'charlm_learning.png'}")
    for (condition, t), m in margins.items():
        if t in REPORTED or t == checkpoints[-1]:
            print(f"margin {condition} {t:.0f} s: {m:+.3f} nats/char")


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for condition, style in (("quiet", "-"), ("loaded", "--")):
        part = [r for r in rows if r["condition"] == condition]
        if part:
            t = [r["seconds"] for r in part]
            ax.plot(t, [r["min_char_rnn_ce"] for r in part], style, color="C0", marker="o",
                    label=f"min-char-rnn, {condition}")
            ax.plot(t, [r["labutils_ce"] for r in part], style, color="C1", marker="o", label=f"labutils, {condition}")
    ax.set(xscale="log", xlabel="seconds of training", ylabel="held-out nats per character (Julius Caesar)",
           title="Learning per second, H=100")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
