"""Notebook 10's language-model comparison: notebook 07's LSTM and notebook 10's minGRU stack, each trained to
early stopping on notebook 07's plays, held-out nats per character and training wall time, in one run.

    python benchmarks/char_lm.py [--max-steps 8000] [--patience 3] [--out labutils/assets/measured/char_lm.csv]

Both models see the same data (``labutils.nn.charlstm.play_data``: six plays, the last 50,000 characters for
validation, Julius Caesar held out), the same batches (64 streams of 100 characters, truncated BPTT), Adam 3e-3
with clipping at 1, seed 0, validation every 100 steps, the best weights kept, and stop when the validation loss
has not improved for --patience validations. The LSTM is notebook 07's (embedding 64, 256 units, one layer); the
minGRU stack is notebook 10's full-mode model. Two threads; the seconds are training only (the final held-out
scoring excluded), on whatever machine runs this: the CSV names it. About 8 minutes on a 2-core machine.
"""
import argparse
import time

import torch
from measured import commit, machine, write_rows

from labutils.config import ASSETS
from labutils.lessons.lstm_text_generation import Budget as LSTMBudget
from labutils.lessons.parallel_recurrences import Budget as MinGRUBudget
from labutils.nn.char_mingru import CharMinGRU
from labutils.nn.charlstm import CharLSTM, cross_entropy, play_data, train_charlstm
from labutils.nn.loop import deterministic


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int, default=8000)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--out", default=str(ASSETS / "measured" / "char_lm.csv"))
    args = parser.parse_args(argv)
    deterministic(threads=2)
    vocab, train_ids, val_ids, heldout_ids = play_data()
    lstm, mingru = LSTMBudget.for_mode("full"), MinGRUBudget.for_mode("full")
    models = {"LSTM": lambda: CharLSTM(len(vocab), lstm.embed, lstm.hidden, 1),
              "minGRU": lambda: CharMinGRU(len(vocab), mingru.lm_width, mingru.lm_layers)}
    rows = []
    for name, make in models.items():
        torch.manual_seed(0)
        model = make()
        start = time.perf_counter()
        history = train_charlstm(model, train_ids, args.max_steps, lr=3e-3, every=100, val_data=val_ids,
                                 patience=args.patience)
        seconds = time.perf_counter() - start
        heldout = cross_entropy(model, heldout_ids)
        rows.append(dict(model=name, params=sum(p.numel() for p in model.parameters()), steps=history.steps,
                         best_step=history.best_step, converged=history.converged, stopped=history.stopped,
                         val_nats=f"{history.best_val_loss:.4f}", heldout_nats=f"{heldout:.4f}",
                         seconds=f"{seconds:.0f}", commit=commit(), machine=machine()))
        print(f"{name:6s} held-out {heldout:.4f} nats/char, validation {history.best_val_loss:.4f} at step "
              f"{history.best_step}; {history.stopped}; {seconds:.0f} s", flush=True)
    write_rows(args.out, rows)
    lstm_row, mingru_row = rows
    print(f"minGRU - LSTM: {float(mingru_row['heldout_nats']) - float(lstm_row['heldout_nats']):+.4f} nats/char; "
          f"wall time minGRU / LSTM: {float(mingru_row['seconds']) / float(lstm_row['seconds']):.2f}")


if __name__ == "__main__":
    main()
