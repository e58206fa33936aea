"""Notebook 09's lesson: its budgets (Budget) and checks: teacher forcing's shift and mask, the masked temporal
softmax loss and greedy decoding."""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from labutils.checks.framework import Check, assert_close, expect_array, expect_tuple, is_close, run_check
from labutils.checks.mistakes import Mistake
from labutils.checks.tensors import load_weights, tensor, weights_of
from labutils.config import LessonBudget, per_mode


@dataclass(frozen=True)
class Budget(LessonBudget):
    """Notebook 09's budgets: training images, the encoder's pretraining and the decoder's epoch cap."""
    n_train: int = per_mode(4000, 1000)      # training images (3 captions each); validation and test: 500 each
    pretrain_epochs: int = per_mode(6, 3)    # epochs of the image encoder's pretraining
    epochs: int = per_mode(40, 8)            # the cap on decoder epochs; early stopping usually ends sooner



def _teacher_forcing_cases(seed):
    """Caption batches as the data has them: <START> (1), words (4..), one <END> (2), then <NULL> (0) padding."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, T in [(4, 7), (1, 3), (6, 12)]:
        captions = np.zeros((N, T), dtype=np.int64)
        for n in range(N):
            length = int(rng.integers(0, T - 1))                       # words between <START> and <END>
            captions[n, 0], captions[n, length + 1] = 1, 2
            captions[n, 1:length + 1] = rng.integers(4, 20, length)
        cases.append(dict(captions=captions, null_id=0, end_id=2))
    return cases


def _probe_teacher_forcing(fns, case):
    return fns["teacher_forcing"](tensor(case["captions"]), case["null_id"])


def _verify_teacher_forcing(case, got):
    captions, null, end = case["captions"], case["null_id"], case["end_id"]
    got = expect_tuple(got, 3, "(captions_in, captions_out, mask)")
    got_in, got_out, mask = (np.asarray(expect_array(g, name)) for g, name in
                             zip(got, ("captions_in", "captions_out", "mask")))
    expected_in, expected_out = captions[:, :-1], captions[:, 1:]
    if got_in.shape == expected_in.shape and np.array_equal(got_in, expected_out) and \
            np.array_equal(got_out, expected_in):
        raise Mistake("teacher_forcing.swapped",
                      "captions_in and captions_out are swapped: the decoder reads captions[:, :-1] "
                      "(starting with <START>) and predicts captions[:, 1:], the next word at each step")
    if np.array_equal(got_in, captions) or np.array_equal(got_out, captions):
        raise Mistake("teacher_forcing.not_shifted",
                      "the captions are not shifted: a decoder whose target is its own input learns to copy. "
                      "captions_in = captions[:, :-1], captions_out = captions[:, 1:]")
    if np.array_equal(got_in, captions[:, :-2]) or np.array_equal(got_out, captions[:, 2:]):
        raise Mistake("teacher_forcing.shifted_twice",
                      "the captions are shifted by two: the target of each step is the *next* word, one "
                      "position on (captions[:, :-1] in, captions[:, 1:] out)")
    for name, mine, expected in (("captions_in", got_in, expected_in), ("captions_out", got_out, expected_out)):
        if mine.shape != expected.shape or not np.array_equal(mine, expected):
            raise AssertionError(f"{name} is wrong (shape {mine.shape}, expected {expected.shape}): captions_in = "
                                 "captions[:, :-1], captions_out = captions[:, 1:]")
    expected_mask = expected_out != null
    if mask.shape != expected_mask.shape:
        raise AssertionError(f"mask has shape {mask.shape}, expected {expected_mask.shape}: one entry per target")
    mask = mask.astype(bool)
    if np.array_equal(mask, expected_mask):
        return
    if np.array_equal(mask, expected_in != null):
        raise Mistake("teacher_forcing.mask_from_inputs",
                      "the mask is built from captions_in: build it from captions_out, the targets (a step "
                      "counts when the word it must predict is real)")
    if np.array_equal(mask, expected_mask & (expected_out != end)):
        raise Mistake("teacher_forcing.mask_drops_end",
                      "the mask leaves out <END>: predicting the end is part of the task (greedy decoding "
                      "stops there), so only <NULL> targets are masked")
    raise AssertionError("mask is wrong: True where captions_out is not <NULL> (null_id), False at the padding")


TEACHER_FORCING = Check(
    "check_teacher_forcing", ("teacher_forcing",), _teacher_forcing_cases, probe=_probe_teacher_forcing,
    verify=_verify_teacher_forcing,
    passed="teacher_forcing OK: inputs end one word early, targets start one word late, <NULL> targets masked")


def check_teacher_forcing(fn: Callable, seed: int = 0) -> None:
    """fn(captions (N, T), null_id) -> captions_in (N, T-1), captions_out (N, T-1), mask (N, T-1)."""
    run_check(TEACHER_FORCING, [fn], seed)


def _loss_cases(seed):
    g = torch.Generator().manual_seed(seed)
    cases = []
    for N, T, V in [(3, 5, 7), (1, 1, 2), (10, 8, 4)]:
        scores = torch.randn(N, T, V, generator=g, dtype=torch.float64)
        targets = torch.randint(0, V, (N, T), generator=g)
        mask = torch.rand(N, T, generator=g) > 0.3
        mask[0, 0] = True
        cases.append(dict(scores=scores.numpy(), targets=targets.numpy(), mask=mask.numpy(), gradient=N == 10))
    return cases


def _probe_loss(fns, case):
    scores = tensor(case["scores"]).requires_grad_(case["gradient"])
    loss = fns["temporal_softmax_loss"](scores, tensor(case["targets"]), tensor(case["mask"]))
    if not case["gradient"]:
        return {"loss": loss}
    loss.backward()
    return {"loss": loss, "grad": scores.grad}


def _verify_loss(case, got):
    from labutils.nn.captioning import temporal_softmax_loss
    scores, targets, mask = tensor(case["scores"]), tensor(case["targets"]), tensor(case["mask"])
    N, T, V = scores.shape
    loss = torch.as_tensor(expect_array(got["loss"], "the loss"), dtype=torch.float64)
    expected = temporal_softmax_loss(scores, targets, mask)
    if loss.dim() != 0:
        raise AssertionError(f"return one number (a 0-d tensor), not shape {tuple(loss.shape)}")
    if is_close(loss, temporal_softmax_loss(scores, targets, torch.ones_like(mask))) and \
            not mask.all() and not is_close(loss, expected):
        raise Mistake("caption_loss.padding_counted",
                      "the loss counts the padded steps: multiply each step's loss by the mask")
    n_real = mask.sum()
    if is_close(loss, expected * N / n_real) and N != n_real:
        raise Mistake("caption_loss.divided_by_words",
                      "the loss is divided by the number of real words; CS231n's convention divides by "
                      f"the batch size N: sum over time, average over captions (here N = {N})")
    _diagnose_loss(loss, expected, scores, targets, mask)
    assert_close(f"the loss ({loss.item():.6f}, expected {expected.item():.6f} for N, T, V = {N}, {T}, {V})", loss,
                 expected, hint="-log softmax(scores)[target], times the mask, summed, divided by N")
    if case["gradient"]:
        grad = got.get("grad")
        if grad is None:
            raise Mistake("caption_loss.no_gradient",
                          "no gradient reached the scores: build the loss from torch operations on scores")
        grad = torch.as_tensor(expect_array(grad, "the gradient"))
        if tuple(grad.shape) != tuple(scores.shape) or grad[~mask].abs().max() > 0:
            raise Mistake("caption_loss.gradient_at_padding",
                          "no gradient may reach the scores at masked steps (and some must reach the rest): "
                          "build the loss from torch operations on scores")


def _diagnose_loss(loss, expected, scores, targets, mask):
    """AssertionError naming a known wrong loss when the student's is what it computes."""
    from labutils.nn.captioning import temporal_softmax_loss
    if is_close(loss, expected):
        return
    N, T, V = scores.shape
    over_time = -(torch.log_softmax(scores, dim=1).gather(2, targets[..., None])[..., 0] * mask).sum() / N
    if T > 1 and is_close(loss, over_time):
        raise Mistake("caption_loss.softmax_over_time",
                      "the softmax runs over the time axis (dim=1): each step's distribution is over the "
                      "vocabulary, the last axis (dim=-1), as F.cross_entropy does on scores.reshape(N * T, V)")
    if T > 1 and is_close(loss, temporal_softmax_loss(scores[:, :-1], targets[:, 1:], mask[:, 1:])):
        raise Mistake("caption_loss.shifted_again",
                      "the loss shifts the captions by one again: its caller already did (scores come from "
                      "captions_in = captions[:, :-1], targets are captions_out = captions[:, 1:]), so compare "
                      "scores[:, t] with targets[:, t] as they are")


TEMPORAL_SOFTMAX_LOSS = Check(
    "check_temporal_softmax_loss", ("temporal_softmax_loss",), _loss_cases, probe=_probe_loss, verify=_verify_loss,
    passed="temporal_softmax_loss OK: matches the reference on 3 shapes; padded steps get no loss and no gradient")


def check_temporal_softmax_loss(fn: Callable, seed: int = 0) -> None:
    """fn(scores (N, T, V), targets (N, T), mask (N, T)) -> scalar: masked cross-entropy summed over time / N."""
    run_check(TEMPORAL_SOFTMAX_LOSS, [fn], seed)


CAPTION_WORDS = ["a b c d e f"]


CAPTIONER = dict(cell="lstm", embed_dim=8, hidden_size=16)


def _captioner(state=None):
    from labutils.data.captions import CaptionVocab
    from labutils.nn.captioning import Captioner
    vocab = CaptionVocab.build(CAPTION_WORDS)
    model = Captioner(len(vocab), encoder=nn.Linear(5, 16), **CAPTIONER)
    return (model if state is None else load_weights(model, state)), vocab


def _decode_cases(seed):
    from labutils.data.captions import END, NULL
    torch.manual_seed(0)
    model, vocab = _captioner()
    with torch.no_grad():                           # (seed 0) some captions end at steps 0-2, the rest run to 9
        model.head.weight.mul_(4)
        model.head.bias[vocab[END]] += 0.2
        model.head.bias[vocab[NULL]] -= 5           # a trained model never predicts <NULL>
    images = 3 * torch.randn(12, 5, generator=torch.Generator().manual_seed(seed))
    return [dict(model=weights_of(model), images=images.numpy(), max_length=9)]


def _probe_decode(fns, case):
    model, vocab = _captioner(case["model"])
    with torch.no_grad():
        return fns["greedy_decode"](model, tensor(case["images"]), vocab, case["max_length"])


def _verify_decode(case, got):
    from labutils.data.captions import END, NULL
    from labutils.nn.captioning import decode
    model, vocab = _captioner(case["model"])
    expected = decode(model, tensor(case["images"]), vocab, max_length=case["max_length"])
    got = torch.as_tensor(expect_array(got, "the captions"))
    if tuple(got.shape) != (12, 9):
        raise AssertionError(f"return (N, max_length) = (12, 9) word ids, not {tuple(got.shape)}; "
                             "the output does not include <START>")
    bad = (got != expected).any(dim=1).nonzero()[:, 0].tolist()
    end_as_null = expected.masked_fill(expected == vocab[END], vocab[NULL])
    if bad and bool((got == end_as_null).all()) and bool((expected == vocab[END]).any()):
        raise Mistake("decode.end_as_null",
                      "your captions have <NULL> where the reference has <END>: keep the <END> word itself "
                      "(the model predicted it), and fill only the steps after it with <NULL>")
    if bad:
        i = bad[0]
        first = int((got[i] != expected[i]).nonzero()[0, 0])
        hint = ("after <END>, fill with <NULL> (id 0)" if vocab[END] in expected[i, :first].tolist()
                else "feed the previous step's argmax word back in; start from <START> and model.init_state(images)")
        raise AssertionError(f"{len(bad)} of 12 captions differ from the reference; caption {i} first at step {first}: "
                             f"got {got[i].tolist()}, expected {expected[i].tolist()}. {hint}")


GREEDY_DECODE = Check(
    "check_greedy_decode", ("greedy_decode",), _decode_cases, probe=_probe_decode, verify=_verify_decode,
    passed="greedy_decode OK: 12 captions match the reference word for word, <NULL> after <END>")


def check_greedy_decode(fn: Callable, seed: int = 0) -> None:
    """fn(model, images, vocab, max_length) -> (N, max_length) word ids, against labutils' greedy decoder."""
    run_check(GREEDY_DECODE, [fn], seed)


CHECKS = (TEACHER_FORCING, TEMPORAL_SOFTMAX_LOSS, GREEDY_DECODE)
# exercise grade_id -> the labutils object that re-implements it ("module:name"): withheld while graded
REFERENCES = {"teacher_forcing": "labutils.nn.captioning:teacher_forcing",
              "temporal_softmax_loss": "labutils.nn.captioning:temporal_softmax_loss",
              "greedy_decode": "labutils.nn.captioning:decode"}
