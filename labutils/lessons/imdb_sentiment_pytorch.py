"""Notebook 05's lesson: its budgets (Budget) and checks: the sentiment model's forward pass (the output at each
review's last real token) and a training loop that can overfit a few dozen reviews.
"""
from typing import Callable

import numpy as np
import torch
from torch import nn

from labutils.checks.framework import Check, assert_close, close_error, expect_array, is_close, kind, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.tensors import load_weights, tensor, weights_in, weights_of
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
        raise Mistake("sentiment_model.layers_changed",
                      "keep the layers of the skeleton (self.embedding, self.rnn with batch_first=True, "
                      f"self.head = nn.Linear(hidden_size, 1)): {str(err)[:300]}") from None
    ids, lengths = tensor(case["ids"]), tensor(case["lengths"])
    with torch.no_grad():
        expected = ref(ids, lengths)
        padded_last = ref.head(ref.forward_layers[0](ref.embedding(ids))[0][:, -1]).squeeze(1)
    out = torch.as_tensor(expect_array(got["out"], "the logits"))
    if tuple(out.shape) != (4,):
        raise Mistake("sentiment_model.logit_shape",
                      f"forward must return one logit per review, shape (4,), not {tuple(out.shape)}: "
                      "squeeze the last dimension of the Linear layer's output")
    if is_close(out, padded_last) and not is_close(out, expected):
        raise Mistake("sentiment_model.padded_last",
                      "forward reads the output at the last *padded* position: gather the output at "
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
CLIP = 1.0                     # the exercise's max gradient norm
STEP_LR = 0.5                  # plain SGD in the step-by-step case: each update is exactly -lr * the gradient
HEAD_SCALE = 30.0              # a larger head makes every batch's gradient norm ~3-7, so clipping at 1 shows


def _step_case(seed, n=32, batch_size=8):
    """Four batches and the weights to start from: the student's loop and the reference's take the same steps."""
    from labutils.nn.sentiment import batches
    rng = np.random.default_rng(seed)
    reviews = [rng.integers(2, OVERFIT_MODEL["vocab_size"], length) for length in rng.integers(5, 20, n)]
    labels = rng.permutation(np.arange(n) % 2).astype(np.float32)
    torch.manual_seed(seed)
    model = SentimentRNN(**OVERFIT_MODEL)
    with torch.no_grad():
        model.head.weight.mul_(HEAD_SCALE)
    steps = [dict(ids=x.numpy(), lengths=lengths.numpy(), labels=y.numpy())
             for x, lengths, y in batches(reviews, labels, batch_size, rng, shuffle=True)]
    return dict(kind="steps", weights=weights_of(model), batches=steps, lr=STEP_LR)


def _overfit_cases(seed, n=40, epochs=40):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 60, n)
    ids = np.zeros((n, lengths.max()), dtype=np.int64)
    for i, length in enumerate(lengths):
        ids[i, :length] = rng.integers(2, OVERFIT_MODEL["vocab_size"], length)
    labels = rng.permutation(np.arange(n) % 2).astype(np.float32)      # random labels: learning means memorising
    return [_step_case(seed),
            dict(kind="overfit", ids=ids, lengths=lengths, labels=labels, seed=seed, epochs=epochs, lr=1e-2)]


def _reviews(case):
    return [np.array(row[:length]) for row, length in zip(case["ids"], case["lengths"])]


def _probe_steps(fns, case):
    """One epoch of the student's loop on the case's batches, recording what each optimizer.step() saw (every
    parameter's .grad) and left (the parameters), and whether the model was in training mode at each forward."""
    model = load_weights(SentimentRNN(**OVERFIT_MODEL), case["weights"])
    optimizer = torch.optim.SGD(model.parameters(), lr=case["lr"])
    seen = {"grads": [], "params": [], "training": []}
    named = list(model.named_parameters())
    optimizer.register_step_pre_hook(lambda *_: seen["grads"].append(
        {k: None if p.grad is None else p.grad.detach().numpy().copy() for k, p in named}))
    optimizer.register_step_post_hook(lambda *_: seen["params"].append(
        {k: p.detach().numpy().copy() for k, p in named}))
    model.register_forward_pre_hook(lambda module, _: seen["training"].append(module.training))
    batches = [(tensor(b["ids"]), tensor(b["lengths"]), tensor(b["labels"])) for b in case["batches"]]
    seen["returned"] = fns["train_one_epoch"](model, batches, optimizer, nn.BCEWithLogitsLoss())
    return seen


def _probe_overfit(fns, case):
    from labutils.nn.sentiment import batches, predict
    if case["kind"] == "steps":
        return _probe_steps(fns, case)
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


def _flat(grads):
    return np.concatenate([np.ravel(g) for g in grads.values()])


def _reference_gradient(model, weights, batch):
    """-> (the loss, the raw gradient {name: array}) of one batch at the given weights."""
    load_weights(model, weights)
    model.train()
    model.zero_grad()
    loss = nn.BCEWithLogitsLoss()(model(tensor(batch["ids"]), tensor(batch["lengths"])), tensor(batch["labels"]))
    loss.backward()
    return loss.item(), {k: p.grad.numpy().copy() for k, p in model.named_parameters()}


def _clipped(grads):
    """What nn.utils.clip_grad_norm_(parameters, CLIP) leaves in .grad."""
    coef = min(1.0, CLIP / (float(np.linalg.norm(_flat(grads))) + 1e-6))
    return {k: g * np.float32(coef) for k, g in grads.items()}


def _same(a, b):
    return set(a) == set(b) and is_close(_flat(a), _flat(b))


def _verify_steps(case, got):
    model = SentimentRNN(**OVERFIT_MODEL)
    grads, params, n = got["grads"], got["params"], len(case["batches"])
    if not grads:
        raise Mistake("train_loop.no_step",
                      f"optimizer.step() was never called in one epoch of {n} batches: call it once per "
                      "batch, after loss.backward(), on the optimizer train_one_epoch is given")
    if not all(got["training"]):
        raise Mistake("train_loop.eval_mode",
                      "the model was in eval mode during training (model.eval() switches off dropout and "
                      "other training-only behaviour): keep model.train() before the loop")
    weights, before, losses = case["weights"], None, []
    for k, batch in enumerate(case["batches"]):
        at = f"at step {k + 1} of {n}"
        if k >= len(grads):
            raise Mistake("train_loop.step_count",
                          f"optimizer.step() ran {len(grads)} time(s) for {n} batches: once per batch")
        loss, raw = _reference_gradient(model, weights, batch)
        losses.append(loss)
        mine = grads[k]
        missing = sorted(name for name, g in mine.items() if g is None)
        if missing:
            raise Mistake("train_loop.no_backward",
                          f"{at}, optimizer.step() ran with no gradient in {', '.join(missing[:3])}: call "
                          "loss.backward() before optimizer.step(), and optimizer.zero_grad() before the "
                          "backward, not between it and the step")
        mine = {name: np.asarray(g) for name, g in mine.items()}
        expected = _clipped(raw)
        if not _same(mine, expected):
            norm = float(np.linalg.norm(_flat(raw)))
            if _same(mine, raw):
                raise Mistake("train_loop.unclipped",
                              f"{at}, the gradient reached optimizer.step() unclipped (norm {norm:.2f} > "
                              f"{CLIP}): call nn.utils.clip_grad_norm_(model.parameters(), {CLIP}) after "
                              "loss.backward() and before optimizer.step(); clipping after the step changes "
                              "nothing")
            if before is not None and (_same(mine, _clipped({kk: before[kk] + raw[kk] for kk in raw}))
                                       or _same(mine, {kk: before[kk] + raw[kk] for kk in raw})):
                raise Mistake("train_loop.no_zero_grad",
                              f"{at}, the gradient still holds the previous batch's: loss.backward() adds to "
                              ".grad, so call optimizer.zero_grad() at the start of every batch")
            worst = max(raw, key=lambda kk: close_error(mine[kk], expected[kk]))
            raise AssertionError(f"{at}, the gradient at optimizer.step() differs from the reference loop's (worst: "
                                 f"{worst}, relative error {close_error(mine[worst], expected[worst]):.2e}): per "
                                 "batch, zero_grad, loss_fn(model(ids, lengths), labels), backward, clip, step")
        if k < len(params):
            after = {kk: weights[kk] - np.float32(case["lr"]) * mine[kk] for kk in mine}
            if not _same({kk: np.asarray(v) for kk, v in params[k].items()}, after):
                raise Mistake("train_loop.not_one_step",
                              f"{at}, the parameters after optimizer.step() are not one step from where they "
                              "were: call step once per batch, and don't change the weights or .grad yourself")
            weights = params[k]
        before = mine
    if len(grads) > n:
        raise Mistake("train_loop.step_count",
                      f"optimizer.step() ran {len(grads)} times for {n} batches: once per batch")
    _verify_returned_loss(got["returned"], losses)


def _verify_returned_loss(returned, losses):
    try:
        returned = float(np.asarray(returned))
    except (TypeError, ValueError):
        raise AssertionError(f"train_one_epoch should return the mean loss (a float), not {kind(returned)}") from None
    mean = float(np.mean(losses))
    if np.isclose(returned, mean, rtol=1e-5):
        return
    if np.isclose(returned, sum(losses), rtol=1e-5):
        raise Mistake("train_loop.returns_sum",
                      f"train_one_epoch returned the sum of the batch losses ({returned:.4f}): return their "
                      f"mean ({mean:.4f})")
    if np.isclose(returned, losses[-1], rtol=1e-5):
        raise Mistake("train_loop.returns_last",
                      f"train_one_epoch returned the last batch's loss ({returned:.4f}): return the mean over "
                      f"the batches ({mean:.4f})")
    raise AssertionError(f"train_one_epoch returned {returned:.4f}; the mean of the batch losses is {mean:.4f}: "
                         "append loss.item() for each batch and return their mean")


def _verify_overfit(case, got):
    from labutils.nn.sentiment import predict
    if case["kind"] == "steps":
        return _verify_steps(case, got)
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
    passed="overfit OK: each of 4 steps of your loop matches the reference loop's (gradient, clipping, update, "
           "returned mean loss), and it drives 40 reviews with random labels to 100 % training accuracy")


def check_overfit(train_one_epoch: Callable, seed: int = 0) -> None:
    """Four steps of the loop against the reference loop's from the same weights and batches (each step's gradient,
    its clipping, the update, the returned mean loss), then a few dozen short reviews with random labels must reach
    100 % training accuracy: the loop can learn at all."""
    run_check(OVERFIT, [train_one_epoch], seed)


CHECKS = (SENTIMENT_FORWARD, OVERFIT)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"sentiment_forward": "labutils.nn.sentiment:SentimentRNN",
              "train_one_epoch": "labutils.nn.sentiment:train_epoch"}
# The probe of train_one_epoch trains this model itself, so the sandbox keeps it (reaching it from an exercise
# cell is still flagged).
PROBES_NEED = {"labutils.nn.sentiment:SentimentRNN"}
