"""Training-step time of nn.LSTM, the minGRU as a loop and the minGRU on two scans, in one run (notebook 10).

    python benchmarks/parallel_scan_speed.py [--length 512] [--batch 1,8,32] [--hidden 32,128] [--repeats 5]

Each model takes one training step (forward, backward of a loss on every output, an Adam update) on a batch of
random sequences of the given length; the median of ``--repeats`` steps is kept. For every batch and width it
prints the milliseconds of each model and the ratios that notebook 10 discusses: the loop's time and nn.LSTM's
over each scan's. Two threads, as on the course's 2-core reference machine (``--threads`` to change).
"""
import argparse

import torch

from labutils.nn import minrnn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--batch", default="1,8,32", help="comma-separated batch sizes")
    parser.add_argument("--hidden", default="32,128", help="comma-separated widths (input = hidden)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = list(minrnn.timed_models(8))
    short = {"nn.LSTM": "LSTM", "minGRU, loop": "loop", "minGRU, log-space scan": "log scan",
             "minGRU, doubling scan": "doubling"}
    print(f"T = {args.length}, {args.threads} threads; milliseconds per training step, and ratios")
    print(f"{'batch':>5} {'width':>5} " + " ".join(f"{short[n]:>9}" for n in names)
          + f" {'loop/dbl':>9} {'LSTM/dbl':>9} {'loop/log':>9} {'LSTM/log':>9}")
    for batch in (int(b) for b in args.batch.split(",")):
        for hidden in (int(h) for h in args.hidden.split(",")):
            ms = {n: 1e3 * s[0] for n, s in minrnn.speed_table((args.length,), batch, hidden, args.repeats).items()}
            loop, lstm = ms["minGRU, loop"], ms["nn.LSTM"]
            dbl, log = ms["minGRU, doubling scan"], ms["minGRU, log-space scan"]
            print(f"{batch:5d} {hidden:5d} " + " ".join(f"{ms[n]:9.1f}" for n in names)
                  + f" {loop / dbl:9.1f} {lstm / dbl:9.1f} {loop / log:9.1f} {lstm / log:9.1f}", flush=True)


if __name__ == "__main__":
    main()
