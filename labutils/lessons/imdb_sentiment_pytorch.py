"""Notebook 05's lesson: its budgets (Budget) and checks: the sentiment model's forward pass (the output at each
review's last real token) and a training loop that can overfit a few dozen reviews.
"""
from typing import Callable

import numpy as np
import torch
from torch import nn

from labutils.checks.framework import Check, assert_close, expect_array, is_close, run_check
from labutils.checks.tensors import load_weights, tensor, weights_in
from labutils.nn.sentiment import Budget as Budget  # notebook 05's budgets are its pipeline's
from labutils.nn.sentiment import SentimentRNN


def _tiny_batch(seed=0):
    from labutils.nn.sentiment import pad_batch
    rng = np.random.default_rng(seed)
    ids, lengths = pad_batch([rng.integers(2, 30, n) for n in (7, 3, 1, 5)])
    return ids.numpy(), lengths.numpy()


def _sentiment_cases(seed):
    ids, lengths = _tiny_batch(seed)
    return [dict(cell=cell, seed=seed, ids=ids, lengths=lengths) for cell in ("rnn", "lstm")]


def _probe_sentiment(fns, case):
    torch.manual_seed(case["seed"])
    mine = fns["SimpleSentimentRNN"](30, 6, 5, case["cell"])
    with torch.no_grad():
        out = mine(tensor(case["ids"]), tensor(case["lengths"]))
    return {"out": out, "embedding": mine.embedding.state_dict(), "rnn": mine.rnn.state_dict(),
            "head": mine.head.state_dict()}


def _verify_sentiment(case, got):
    ref = SentimentRNN(30, 6, 5, case["cell"])
    try:
        load_weights(ref.embedding, weights_in(got["embedding"], "self.embedding"))
        load_weights(ref.forward_layers[0], weights_in(got["rnn"], "self.rnn"))
        load_weights(ref.head, weights_in(got["head"], "self.head"))
    except RuntimeError as err:
        raise AssertionError("keep the layers of the skeleton (self.embedding, self.rnn with batch_first=True, "
                             f"self.head = nn.Linear(hidden_size, 1)): {str(err)[:300]}") from None
    ids, lengths = tensor(case["ids"]), tensor(case["lengths"])
    with torch.no_grad():
        expected = ref(ids, lengths)
        padded_last = ref.head(ref.forward_layers[0](ref.embedding(ids))[0][:, -1]).squeeze(1)
    out = torch.as_tensor(expect_array(got["out"], "the logits"))
    if tuple(out.shape) != (4,):
        raise AssertionError(f"forward must return one logit per review, shape (4,), not {tuple(out.shape)}: "
                             "squeeze the last dimension of the Linear layer's output")
    if is_close(out, padded_last) and not is_close(out, expected):
        raise AssertionError("forward reads the output at the last *padded* position: gather the output at "
                             "position lengths - 1 of each review instead")
    assert_close(f"{case['cell']}: the logits", out, expected,
                 hint="embedding -> self.rnn (batch_first) -> the output at position lengths-1 -> self.head")


SENTIMENT_FORWARD = Check(
    "check_sentiment_forward", ("SimpleSentimentRNN",), _sentiment_cases,
    probe=_probe_sentiment, verify=_verify_sentiment,
    passed="forward OK: one logit per review, read at each review's last real token (rnn and lstm)")


def check_sentiment_forward(model_class: type, seed: int = 0) -> None:
    """model_class(vocab_size, embed_dim, hidden_size, cell) with .embedding, .rnn, .head and forward(ids, lengths)."""
    run_check(SENTIMENT_FORWARD, [model_class], seed)


OVERFIT_MODEL = dict(vocab_size=40, embed_dim=16, hidden_size=32, cell="lstm")


def _overfit_cases(seed, n=40, epochs=40):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 60, n)
    ids = np.zeros((n, lengths.max()), dtype=np.int64)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(2, OVERFIT_MODEL["vocab_size"], length)
    labels = rng.permutation(np.arange(n) % 2).astype(np.float32)      # random labels: learning means memorising
    return [dict(ids=ids, lengths=lengths, labels=labels, seed=seed, epochs=epochs, lr=1e-2)]


def _reviews(case):
    return [np.array(row[:length]) for row, length in zip(case["ids"], case["lengths"])]


def _probe_overfit(fns, case):
    from labutils.nn.sentiment import batches, predict
    torch.manual_seed(case["seed"])
    model = SentimentRNN(**OVERFIT_MODEL)
    optimizer = torch.optim.Adam(model.parameters(), lr=case["lr"])
    reviews, labels = _reviews(case), np.array(case["labels"])
    rng, losses = np.random.default_rng(case["seed"]), []
    for _ in range(case["epochs"]):
        losses.append(float(fns["train_one_epoch"](model, list(batches(reviews, labels, 8, rng, shuffle=True)),
                                                   optimizer, nn.BCEWithLogitsLoss())))
        if np.all((predict(model, reviews) > 0.5) == labels):
            break
    return {"weights": model.state_dict(), "losses": losses}


def _verify_overfit(case, got):
    from labutils.nn.sentiment import predict
    model = SentimentRNN(**OVERFIT_MODEL)
    try:
        load_weights(model, weights_in(got["weights"], "the trained weights"))
    except RuntimeError as err:
        raise AssertionError(f"the trained model's weights don't fit its architecture: {str(err)[:300]}") from None
    accuracy = float(np.mean((predict(model, _reviews(case)) > 0.5) == case["labels"]))
    losses = [float(x) for x in got["losses"]]
    if not accuracy == 1.0:
        trend = f" (loss {losses[0]:.3f} -> {losses[-1]:.3f})" if losses else ""
        raise AssertionError(f"after {len(losses)} epochs on {len(case['labels'])} reviews, training accuracy is "
                             f"{accuracy:.0%}{trend}; a correct loop reaches 100 %: check zero_grad, backward and "
                             "optimizer.step, and that the loss uses the labels as floats")


OVERFIT = Check(
    "check_overfit", ("train_one_epoch",), _overfit_cases, probe=_probe_overfit, verify=_verify_overfit,
    passed="overfit OK: your training loop drives 40 reviews with random labels to 100 % training accuracy")


def check_overfit(train_one_epoch: Callable, seed: int = 0) -> None:
    """A few dozen short reviews with random labels must reach 100 % training accuracy: the loop can learn at all."""
    run_check(OVERFIT, [train_one_epoch], seed)


CHECKS = (SENTIMENT_FORWARD, OVERFIT)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"sentiment_forward": "labutils.nn.sentiment:SentimentRNN",
              "train_one_epoch": "labutils.nn.sentiment:train_epoch"}
# The probe of train_one_epoch trains this model itself, so the sandbox keeps it (reaching it from an exercise
# cell is still flagged).
PROBES_NEED = {"labutils.nn.sentiment:SentimentRNN"}
