"""Notebook 10's selective-copy table in full: minGRU, minLSTM and nn.LSTM at 1, 2 and 3 layers, and the
one-layer minRNNs trained on to early stopping.

    python benchmarks/selective_copy.py [--out labutils/assets/measured/selective_copy.csv]

Each row is ``labutils.nn.selective_copy.train_selective_copy`` with the notebook's settings (8 data tokens, 4 to
copy among 64 blanks, width 64, batch 64, Adam 3e-3, seed 0): the table rows with a 3,000-step cap and patience
5, as in the notebook; the "long" rows (the one-layer minGRU and minLSTM, which the cap stops short) with a
20,000-step cap and patience 10. Rows are written as they finish and the file is rewritten atomically, so an
interrupted run resumes. Two threads. About 10 minutes on a 2-core machine.
"""
import argparse
import time

from measured import commit, machine, read_rows, write_rows

from labutils.config import ASSETS
from labutils.nn.loop import deterministic
from labutils.nn.selective_copy import train_selective_copy

TABLE = [(cell, layers, 3000, 5) for layers in (1, 2, 3) for cell in ("minGRU", "minLSTM", "LSTM")]
LONG = [("minGRU", 1, 20_000, 10), ("minLSTM", 1, 20_000, 10)]
KEY = ("cell", "layers", "max_steps", "patience")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ASSETS / "measured" / "selective_copy.csv"))
    args = parser.parse_args(argv)
    deterministic(threads=2)
    rows = read_rows(args.out)
    done = {tuple(r[k] for k in KEY) for r in rows}
    for cell, layers, max_steps, patience in TABLE + LONG:
        if tuple(map(str, (cell, layers, max_steps, patience))) in done:
            continue
        start = time.perf_counter()
        history = train_selective_copy(cell, layers, max_steps, patience=patience)
        seconds = time.perf_counter() - start
        by_copy = history.results["test_acc_by_copy"]
        rows.append(dict(cell=cell, layers=layers, max_steps=max_steps, patience=patience, steps=history.steps,
                         best_step=history.best_step, converged=history.converged, stopped=history.stopped,
                         test_acc=f"{history.results['test_acc']:.4f}",
                         **{f"copy{i + 1}_acc": f"{a:.4f}" for i, a in enumerate(by_copy)},
                         seconds=f"{seconds:.0f}", commit=commit(), machine=machine()))
        write_rows(args.out, rows)
        print(f"{cell:7s} {layers} layers: test {history.results['test_acc']:.4f} (by copy "
              + " ".join(f"{a:.3f}" for a in by_copy) + f"), {history.stopped}, {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
