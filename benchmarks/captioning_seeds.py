"""Notebook 09's decoders over seeds: how much of its RNN-vs-LSTM table is the seed.

    python benchmarks/captioning_seeds.py [--seeds 0,1,2] [--out labutils/assets/measured/captioning_seeds.csv]

Notebook 09's full-mode pipeline exactly (4,000 scenes, the encoder pretrained for 6 epochs with seed 0, its
features, decoders of width 128 trained with Adam 2e-3 to early stopping, patience 5, cap 40 epochs, greedy
captions of the 500 test images); only the decoder's seed (its initialisation and batch order) changes. Rows are
written as they finish (an interrupted run resumes). Two threads; a few minutes on a 2-core machine.
"""
import argparse

import torch
from measured import commit, machine, read_rows, write_rows
from torch import nn

from labutils import set_seed
from labutils.bleu import corpus_bleu
from labutils.config import ASSETS
from labutils.data import scenes
from labutils.data.captions import decode_captions
from labutils.lessons.image_captioning import Budget
from labutils.nn import captioning
from labutils.nn.captioning import EMBED, HIDDEN, LR, PATIENCE
from labutils.nn.loop import deterministic


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", default=str(ASSETS / "measured" / "captioning_seeds.csv"))
    args = parser.parse_args(argv)
    deterministic(threads=2)
    set_seed(0)
    budget = Budget.for_mode("full")
    rows = read_rows(args.out)
    done = {(r["cell"], r["seed"]) for r in rows}
    splits, vocab = scenes.load_scenes(n_train=budget.n_train, n_val=500, n_test=500, seed=0)
    encoder = captioning.pretrain_encoder(splits["train"], out_dim=256, epochs=budget.pretrain_epochs).model
    features = captioning.extract_features(encoder, splits)
    test = torch.from_numpy(features["test"].images)
    for seed in map(int, args.seeds.split(",")):
        for cell in ("rnn", "lstm"):
            if (cell, str(seed)) in done:
                continue
            torch.manual_seed(seed)
            model = captioning.Captioner(len(vocab), cell, EMBED, HIDDEN, encoder=nn.Linear(256, HIDDEN))
            h = captioning.train_captioner(model, features["train"], budget.epochs, val=features["val"], lr=LR,
                                           patience=PATIENCE, seed=seed)
            hyps = decode_captions(captioning.decode(model, test, vocab).numpy(), vocab)
            rows.append(dict(cell=cell, seed=seed, epochs=h.steps // h.every, best_epoch=h.best_step // h.every,
                             converged=h.converged, best_val_loss=round(h.best_val_loss, 4),
                             bleu4=round(corpus_bleu(splits["test"].references, hyps)[4], 4),
                             true_captions=round(scenes.true_fraction(hyps, splits["test"].scenes), 4),
                             commit=commit(), machine=machine()))
            write_rows(args.out, rows)
            print({k: v for k, v in rows[-1].items() if k not in ("commit", "machine")}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
